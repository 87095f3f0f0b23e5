"""Theano 1.0.5 builds its scan loop (recurrent layers) from Cython-generated C that no longer compiles on
Python 3.11 (it reaches into interpreter internals that changed). Refusing that one module makes Theano take
its own pure-Python scan, which it falls back to by design: slower, the same arithmetic."""

import sys


class _NoCompiledScan(object):
    def find_spec(self, name, path=None, target=None):
        if name == "theano.scan_module.scan_perform_ext":
            raise ImportError("keras-drift: Theano's compiled scan does not build on Python 3.11")
        return None


sys.meta_path.insert(0, _NoCompiledScan())
