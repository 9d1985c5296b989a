"""The neutral base every layer builds on: registries, the cache location, and the result types that suites
produce and reports read. It imports no other project package (layers: base → methods, metrics → tasks → bench)."""
