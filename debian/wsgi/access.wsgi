"""mod_wsgi access hook of libapache2-mod-secfilter (see mods-available/secfilter_wsgi.conf).

The rules are read from the whole Apache configuration, as with the
mod_python hook: Sec* lines inside <IfModule secfilter_module> anywhere in
/etc/apache2/apache2.conf and the files it includes.
"""

from apache_secfilter.adapters.modwsgi import make_access

allow_access = make_access("/etc/apache2/apache2.conf")
