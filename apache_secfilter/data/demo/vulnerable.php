<?php
// The article's deliberately vulnerable script (PHP 4 with register_globals:
// include( $file );), written for PHP 8: it includes whatever file the
// `file` parameter names, from the query string or a POST body.
// It is a gaping security hole on purpose. Serve it only behind the filter,
// on a private address, and never copy it to a real site.
include($_GET['file'] ?? $_POST['file'] ?? 'index.html');
