"""Sessions of this project: `nox -s drift` compares the environments in envs/ (keras-drift).

`nox -l` lists them: drift, report, gate, lock, bisect and one probe-<env> per file in envs/.
"""

import nox

from keras_drift.nox import add_sessions

nox.options.sessions = ["drift"]
add_sessions()
