"""A local stand-in for Modal's servers, for tests of the Modal backend.

It speaks the gRPC protocol the real ``modal`` SDK (1.6.4) uses for sandboxes, on one
plaintext port: the control plane (``modal.client.ModalClient``) and the task command
router (``modal.task_command_router.TaskCommandRouter``). Sandboxes are Docker containers
on the local engine. Run it with ``python -m standin --port N`` from ``tests/modal`` (or
``python -m tests.modal.standin`` from the repository root) and point the SDK at it with
``MODAL_SERVER_URL=http://127.0.0.1:N`` plus any ``MODAL_TOKEN_ID``/``MODAL_TOKEN_SECRET``.

Modules: ``server`` (start, stop, signals), ``control`` and ``router`` (the two services),
``sandboxes`` (containers and their lifetime), ``execs`` (Docker exec, output, stdin,
timeouts), ``fstools`` (``sb.filesystem``), ``tunnels`` (ports and TLS), ``images``
(image lookup), ``engine`` (network, labels, sweeping leftovers), ``errors`` (status
mapping, UNIMPLEMENTED for every other RPC), ``ids`` (ids and tokens).

What real Modal does differently (or is not known to do the same):

* Transport: real Modal serves TLS with publicly trusted certificates on both services;
  the stand-in is plaintext, which the SDK accepts for the router only because the
  client dialled a localhost name. Tokens are never checked; the JWTs it hands out are
  unsigned.
* Tunnels: real tunnel hosts are public names (``*.modal.host``) with publicly trusted
  certificates, reachable from anywhere. Here an encrypted tunnel is a TLS forwarder on
  the gateway address of the stand-in's Docker network, with a certificate (for that IP
  address) from a CA the stand-in makes at start; clients trust it only through standard
  settings: ``SSL_CERT_FILE`` on the host (the fixture gives the CA file), and inside
  every sandbox the CA at ``/etc/modal-standin/ca.pem``, a bundle of the image's trust
  store plus the CA at ``/etc/modal-standin/ca-bundle.pem`` (``SSL_CERT_FILE`` points
  there) and the CA appended to ``/etc/ssl/certs/ca-certificates.crt`` when the image has
  it. An unencrypted tunnel is the container's own address on that network, reachable
  from the host and from other sandboxes only. Every port gets a TLS endpoint (like
  Modal); ``h2_ports`` and ``SandboxGetTunnelsV2``'s waiting ``timeout`` are not
  emulated. ``SandboxCreateV2`` returns only the encrypted tunnels, as real Modal does
  not know unencrypted endpoints at create time.
* Environments: the workspace starts with its default environment ``main`` only (what
  a request naming none, ``""``, means); ``EnvironmentGetOrCreate`` with
  ``CREATE_IF_MISSING`` adds one. Apps, app lists and sandbox lists in an unknown
  environment answer NOT_FOUND ``Environment 'x' not found`` (real Modal's wording is
  assumed). Environment settings, roles and deletion are not emulated.
* Images are looked up in the local engine and never pulled or built; only
  ``FROM``/``ENTRYPOINT``/``CMD``/``ENV``/``WORKDIR`` lines are understood.
* Sandboxes: a sandbox without arguments runs ``sleep infinity`` (an assumption). Docker's
  ``--init`` is PID 1. Resources map to Docker's ``cpu_shares``/``nano_cpus``/
  ``mem_reservation``/``mem_limit``. Network ``BLOCKED`` is ``network_mode=none``;
  allowlists, named secrets, volumes, GPUs, snapshots, sidecars, PTYs, names,
  readiness probes and the entrypoint's stdio/logs are not supported. The sandbox
  environment also carries ``SSL_CERT_FILE``. State lives in memory only.
* Execs: every exec's environment carries ``MODAL_STANDIN_EXEC=<exec id>``, which is how a
  timeout finds and kills the whole process tree (so a process that clears its
  environment escapes the kill). A timed-out exec never reports an exit code, so the
  SDK's deadline gives -1; what real Modal reports there is not known. A missing binary
  gives Docker's code 126 with the error on stdout. An exec whose sandbox ends under it
  answers NOT_FOUND to wait/poll.
* ``sb.filesystem`` runs a POSIX shell script (``cat``, ``mkdir``, ``find``, ``rm``) as
  the sandbox user instead of Modal's ``modal-sandbox-fs-tools`` binary, so images need
  those tools; there is no ``FileTooLarge`` limit, ``watch`` is not supported, and the
  error kinds come from the tools' messages. ``permissions`` is ``rwxr-xr-x`` style.
* Nothing is deduplicated on ``x-idempotency-key`` (exec ids are, as exec retries reuse
  them); there are no quotas, throttling or server warnings.
"""
