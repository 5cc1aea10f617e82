"""Build the eqops Python package against an installed libeqops found with pkg-config."""
import shlex
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py


def pkg_config(*args):
    try:
        out = subprocess.check_output(["pkg-config", *args, "eqops"], text=True)
    except (OSError, subprocess.CalledProcessError):
        sys.exit("eqops: pkg-config cannot find libeqops. Install the library first "
                 "(see the README) or point PKG_CONFIG_PATH at its lib/pkgconfig directory.")
    return out.strip()


includedir = pkg_config("--variable=includedir")
incs = [f[2:] for f in shlex.split(pkg_config("--cflags-only-I"))] + [includedir]
libdirs = [f[2:] for f in shlex.split(pkg_config("--libs-only-L"))]
libs = [f[2:] for f in shlex.split(pkg_config("--libs-only-l"))]


class BuildExt(build_ext):
    """Always rerun SWIG: it cannot see that the installed interface files changed."""

    def finalize_options(self):
        super().finalize_options()
        self.force = True


class BuildPy(build_py):
    """Run SWIG (build_ext) first, so that its generated raw.py is part of the package."""

    def run(self):
        self.run_command("build_ext")
        super().run()


setup(
    ext_modules=[
        Extension(
            "eqops._raw",
            sources=["eqops/raw.i"],
            swig_opts=["-threads", "-I" + includedir],
            include_dirs=incs,
            library_dirs=libdirs,
            libraries=libs,
            runtime_library_dirs=libdirs,
        )
    ],
    cmdclass={"build_py": BuildPy, "build_ext": BuildExt},
)
