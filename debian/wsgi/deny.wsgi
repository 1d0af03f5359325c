"""ErrorDocument 403 target of libapache2-mod-secfilter: the rule's own status."""

from apache_secfilter.adapters.modwsgi import deny_application as application  # noqa: F401
