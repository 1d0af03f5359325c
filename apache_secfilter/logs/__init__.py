"""apache_secfilter."""
