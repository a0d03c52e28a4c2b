"""Settings every test process shares, set before any test reads them."""

from __future__ import annotations

import os

from bank_web.settings import LOOPBACK_HOSTS
from tests.support.keys import MASTER_KEY

# The loopback names (the default) and `testserver`, the Host that starlette's TestClient
# sends, for in-process apps and the servers the HTTP tests start (which inherit the
# environment). Tests of the default itself, and of refusals, set their own.
os.environ["BANK_ALLOWED_HOSTS"] = ",".join([*LOOPBACK_HOSTS, "testserver"])
# The master key of in-process apps and of the servers the tests start; the tests' clients
# send it (tests.support.keys.AUTH). Tests of serve without one remove it from their server's
# environment.
os.environ["BANK_MASTER_KEY"] = MASTER_KEY
