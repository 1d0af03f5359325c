"""Whole Apache configurations: Sec* lines in apache2.conf, per-request policies.

``source.load_source(path)`` reads a flat rules file or an Apache main
configuration (Debian's ``/etc/apache2/apache2.conf`` and what it includes)
and returns a ``PolicySource``; ``policy_for(request)`` gives the policy of
the sections the request falls in.  See docs/apache-config.md.
"""
