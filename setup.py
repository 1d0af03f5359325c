"""Packaging for apache_secfilter: the library, the `secfilter` command, package data."""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="apache_secfilter",
    version="0.1.0",
    description=("ModSecurity 1.x rule language (SecFilter, SecFilterSelective) for Apache 2.4,"
                 " in Python"),
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["apache_secfilter", "apache_secfilter.*"]),
    include_package_data=True,
    package_data={"apache_secfilter": ["data/*", "data/**/*"]},
    install_requires=["pyparsing>=3.0", "pyyaml>=6.0", "regex>=2022.1", "pyahocorasick>=1.4"],
    extras_require={
        "wsgi": ["mod_wsgi"],
        "test": ["pytest>=7", "hypothesis>=6", "ruff", "sphinx>=5.3", "myst-parser>=0.18"],
    },
    entry_points={"console_scripts": ["secfilter = apache_secfilter.cli.main:main"]},
    classifiers=[
        "Environment :: Web Environment",
        "Programming Language :: Python :: 3",
        "Topic :: Internet :: WWW/HTTP :: HTTP Servers",
        "Topic :: Security",
    ],
)
