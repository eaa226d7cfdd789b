"""Start the worker: `python3 -I <worker folder>/__main__.py CONFIG`.

Run as a file, not with `-m`: in isolated mode (`-I`) neither the folder nor the working
directory is on sys.path, and it stays that way. This file loads the folder as the package
`fnforge_worker` from its own location, so the same files run in the container (mounted at
/opt/fnforge/worker) and from an installed fnforge (the process backend).
"""

import importlib
import importlib.util
import os
import sys

PACKAGE = "fnforge_worker"


def load_package():
    """Import this folder as `fnforge_worker` without putting anything on sys.path."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        PACKAGE, os.path.join(here, "__init__.py"), submodule_search_locations=[here]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    return importlib.import_module(PACKAGE + ".server")


if __name__ == "__main__":
    load_package().main(sys.argv)
