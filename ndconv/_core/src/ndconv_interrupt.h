/* Ctrl-C for long calls.
 *
 * A long call runs with the GIL released on OpenMP threads, so Python cannot
 * raise KeyboardInterrupt until it returns.  For its duration the call
 * installs ndconv_on_sigint for SIGINT: the handler sets a stop flag, which
 * the work-item loops read between items (workers stop taking new items), and
 * passes the signal on to the handler it replaced (Python's), so Python still
 * records it.  When the loop ends the caller restores the previous handler and
 * lets Python run its signal handlers (PyErr_CheckSignals), which raise
 * KeyboardInterrupt.
 *
 * Header-only: each build of the core (baseline, avx2, avx512) has its own
 * copy of the flag, armed and read by that build's calls only.  Only calls
 * made from Python's main thread arm it (Python runs signal handlers there
 * only), one at a time, so a single saved handler suffices.
 */
#ifndef NDCONV_INTERRUPT_H
#define NDCONV_INTERRUPT_H

#include <signal.h>

#if defined(__unix__) || defined(__APPLE__)
#include <errno.h>
#include <string.h>
#define NDCONV_HAVE_SIGACTION 1
#else
#define NDCONV_HAVE_SIGACTION 0
#endif

static volatile sig_atomic_t ndconv_stop_flag = 0;

#if NDCONV_HAVE_SIGACTION
static struct sigaction ndconv_prev_sigint;

static void ndconv_on_sigint(int sig, siginfo_t* info, void* ctx) {
    int saved = errno;   /* a handler must not change errno under the code it interrupts */
    ndconv_stop_flag = 1;
    if (ndconv_prev_sigint.sa_flags & SA_SIGINFO) {
        if (ndconv_prev_sigint.sa_sigaction != NULL)
            ndconv_prev_sigint.sa_sigaction(sig, info, ctx);
    } else if (ndconv_prev_sigint.sa_handler != SIG_DFL && ndconv_prev_sigint.sa_handler != SIG_IGN) {
        ndconv_prev_sigint.sa_handler(sig);
    }
    errno = saved;
}
#endif

/* Install the handler; returns 1 if the call is now interruptible.  Not when
 * SIGINT is ignored (nothing should stop) or has its default action (it ends
 * the process anyway), nor where sigaction is missing. */
static int ndconv_stop_arm(void) {
#if NDCONV_HAVE_SIGACTION
    struct sigaction sa, prev;
    if (sigaction(SIGINT, NULL, &prev) != 0)
        return 0;
    if (!(prev.sa_flags & SA_SIGINFO) && (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN))
        return 0;
    ndconv_prev_sigint = prev;
    ndconv_stop_flag = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = ndconv_on_sigint;
    /* the replaced handler's flags that matter to it (its own stack), and its mask */
    sa.sa_flags = SA_SIGINFO | (prev.sa_flags & SA_ONSTACK);
    sa.sa_mask = prev.sa_mask;
    return sigaction(SIGINT, &sa, NULL) == 0;
#else
    return 0;
#endif
}

/* Restore the replaced handler; returns 1 if SIGINT arrived while armed. */
static int ndconv_stop_disarm(void) {
    int stopped;
#if NDCONV_HAVE_SIGACTION
    sigaction(SIGINT, &ndconv_prev_sigint, NULL);
#endif
    stopped = ndconv_stop_flag != 0;
    ndconv_stop_flag = 0;
    return stopped;
}

/* Whether the loops of an armed call should stop taking work items. */
static inline int ndconv_stop_requested(int armed) {
    return armed && ndconv_stop_flag != 0;
}

#endif
