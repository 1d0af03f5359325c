"""Sphinx configuration for the apache_secfilter documentation (Markdown via MyST).

    sphinx-build -W -b html docs build/docs/html     # the HTML pages
    sphinx-build -W -b man docs build/docs/man       # secfilter(1)
"""

project = "apache_secfilter"
author = "apache_secfilter maintainers"
copyright = "apache_secfilter maintainers"
version = release = "0.1.0"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Links such as [text](language.md#some-heading) resolve to the heading's
# GitHub-style anchor, so the pages read the same on GitHub and in Sphinx.
myst_heading_anchors = 4
myst_enable_extensions = ["deflist"]

# Code blocks without a language are plain text, not Python.
highlight_language = "none"

html_theme = "alabaster"
html_static_path = []

man_pages = [
    ("secfilter", "secfilter",
     "ModSecurity 1.x rules (SecFilter, SecFilterSelective) for Apache 2.4",
     [author], 1),
]
man_show_urls = False
