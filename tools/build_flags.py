"""Print the compiled modules setup.py builds for a target, with the flags it would use.

For builds that cannot go through ``setup.py build_ext`` (cross-compiling for another
machine: see ``tools/test_aarch64.sh``).  setup.py is imported, not run, and its own
``BuildExt.plan()`` decides the modules and flags with the compiler named by ``CC``
(probing each flag, and OpenMP by a link-only check, as a cross build does), so the
cross build uses exactly what a native build on the target would.

Output, one tab-separated line each::

    directives  <Cython -X list, k=v,...>
    module      <dotted name>  <sources>  <-D, -I and compile args>  <link args>

Run as ``CC=aarch64-linux-gnu-gcc python tools/build_flags.py aarch64`` from anywhere;
needs setuptools and the cross compiler, not Cython.
"""
import argparse
import contextlib
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def plan(machine):
    """``(directives, extensions)`` setup.py's BuildExt plans for Linux on ``machine``."""
    os.environ["_PYTHON_HOST_PLATFORM"] = "linux-" + machine
    spec = importlib.util.spec_from_file_location("_ndconv_setup", os.path.join(ROOT, "setup.py"))
    setup_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup_py)
    from setuptools import Distribution
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    cwd = os.getcwd()
    os.chdir(ROOT)          # setup.py names its sources relative to the repository
    try:
        cmd = setup_py.BuildExt(Distribution({"ext_modules": setup_py.extensions()}))
        cmd.ensure_finalized()
        cmd.compiler = new_compiler()
        customize_compiler(cmd.compiler)     # honours CC, CFLAGS, LDSHARED ...
        with contextlib.redirect_stdout(sys.stderr):
            exts, directives = cmd.plan()
    finally:
        os.chdir(cwd)
    return directives, exts


def _macro(name, value):
    return "-D%s" % name if value is None else "-D%s=%s" % (name, value)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("machine", help="target machine as platform.machine() spells it: aarch64, x86_64")
    args = ap.parse_args(argv)
    directives, exts = plan(args.machine)
    out = ["directives\t" + ",".join("%s=%s" % kv for kv in directives.items())]
    for ext in exts:
        cflags = ([_macro(*m) for m in ext.define_macros] + ["-I%s" % d for d in ext.include_dirs]
                  + list(ext.extra_compile_args))
        ldflags = ["-l%s" % lib for lib in ext.libraries] + list(ext.extra_link_args)
        out.append("\t".join(["module", ext.name, " ".join(ext.sources), " ".join(cflags),
                              " ".join(ldflags)]))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
