"""Backends behind vecgate, one module or package per engine, all behind `adapters.base.Backend`."""
