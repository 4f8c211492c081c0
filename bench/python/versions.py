"""Print the versions the dashboard records, as JSON: Python, and gevent and
eventlet (null when Debian's python3 cannot import them, with the reason)."""
import importlib
import json
import platform

out = {"python": platform.python_version()}
for name in ("gevent", "eventlet"):
    try:
        module = importlib.import_module(name)
        out[name] = module.__version__
    except Exception as err:  # noqa: BLE001 - any import failure means "not available"
        out[name] = None
        out[f"{name}_error"] = f"{type(err).__name__}: {err}"
if out["gevent"]:
    # gevent bundles its own event loop; say which, and libev's version when it is libev.
    import gevent

    loop = gevent.get_hub().loop
    out["gevent_loop"] = type(loop).__module__
    if hasattr(loop, "backend") and hasattr(gevent, "libev"):
        try:
            from gevent.libev import corecext

            out["gevent_libev"] = corecext.get_version()
        except ImportError:
            pass
print(json.dumps(out))
