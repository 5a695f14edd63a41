"""What a process of SBT writes is readable by its own user only.

Under the data folder lie the databases (with the sealed reporter identities and their wrapped keys),
the development keys and the NATS passwords. Every command that writes there first sets a umask of
0077, so that whatever it makes (and the nats-server it starts) is 0600 or 0700, and makes the data
folder itself 0700, even when it existed before with a looser mode.
"""

from __future__ import annotations

import os

from shared.settings import CoreSettings


def keep_private(settings: CoreSettings) -> None:
    os.umask(0o077)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
