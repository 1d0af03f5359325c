"""End-to-end tests: a real Apache 2.4 with mod_php/php-fpm, mod_python and mod_wsgi."""
