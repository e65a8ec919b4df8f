# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the pip bootstrap script ansible-test downloads (get-pip.py).

ansible-test runs its cached copy (~/.ansible/test/cache/get_pip_<version>.py) inside each fresh
sanity venv with pip-install style arguments, such as
``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``. Where the download host
cannot be reached, tools/sanity.sh puts this file there instead: it installs the pip that ships
with the interpreter (ensurepip), then pip-installs the requested packages, trusting the system CA
bundle, since ansible-test does not pass pip's configured CA bundle through.
"""

import os
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = ('--no-setuptools', '--no-wheel')
CA_BUNDLE = os.environ.get('MT5CRS_PIP_CERT', '/etc/ssl/certs/ca-certificates.crt')


def main(argv):
    status = subprocess.call([sys.executable, '-m', 'ensurepip', '--default-pip'])
    if status != 0:
        sys.stderr.write('get-pip stand-in: ensurepip failed with status %d for %s\n' % (status, sys.executable))
        return status

    args = [arg for arg in argv if arg not in GET_PIP_ONLY_OPTIONS]
    if not [arg for arg in args if not arg.startswith('-')]:
        return 0
    command = [sys.executable, '-m', 'pip', 'install']
    if os.path.exists(CA_BUNDLE):
        command += ['--cert', CA_BUNDLE]
    return subprocess.call(command + args)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
