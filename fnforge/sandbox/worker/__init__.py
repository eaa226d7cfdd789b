"""The sandbox worker: a stdlib-only package that runs untrusted functions in forked children.

It runs inside the container (as PID 1; the host mounts this folder read-only) or, for the
process backend, as a local subprocess, started as `python3 -I <this folder>/__main__.py
CONFIG`. The host talks to it with length-prefixed JSON frames on the worker's original
stdin and stdout; at start the worker moves those pipes to private descriptors and points
0, 1 and 2 at /dev/null, so nothing user code prints can forge a reply.

The worker itself never runs user code. Forked children do, one module per concept:
- `protocol`: the frames; `processes`: fork, descriptors, rlimits, the memory cgroup;
- `process_table`: the worker's children (exit statuses, kills, what ended one that did
  not answer); `output`: what children print, captured and bounded;
- `function_set`: the synthetic `functions` package a child imports the set from;
- `holder`: one process per loaded set; it imports the set's modules once, then keeps
  spare *call children* forked (`call_child`), so a call that monkeypatches a module, loops
  forever or crashes poisons nothing that follows;
- `holder_handle`: the worker's end of a holder and the phases of one call through it
  (discard stale output, send, await the answer), how a wait ended being a type;
- `loaded_sets`: the worker's side of loading a set and handing it calls, with the wall
  clock enforced by SIGKILL (no in-process alarm is trusted), and the call's outcome named;
- `sweep`: as PID 1 of a container, remove every process a call left behind (daemons,
  fork bombs) before the next request;
- `proptest_host`: a fresh child per `proptest` request, running the runner the host sends;
- `server`: the request loop (ping, load, call, proptest; replies carry the request's id).

Everything here imports only the standard library and this package (relative imports), so
it runs under whatever Python the image holds, with nothing of fnforge installed.
"""
