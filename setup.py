"""Package discovery that pyproject.toml alone cannot express.

The top-level ``kernels/`` directory installs as ``nbflow.kernels`` (never as a
bare ``kernels`` package, a name taken on PyPI), and its subpackages follow it.
"""
from setuptools import find_packages, setup

kernel_packages = find_packages(include=["kernels", "kernels.*"])
setup(
    packages=find_packages(include=["nbflow", "nbflow.*"])
    + ["nbflow." + name for name in kernel_packages],
    package_dir={"nbflow.kernels": "kernels"},
)
