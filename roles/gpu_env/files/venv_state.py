# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report, as JSON on stdout, the host interpreter and the state of the venv at argv[1].

Run by the gpu_env role with the interpreter that makes the venv. Read-only: it looks, it never
changes anything. Standard library only, so it runs on a bare host.
"""

import getpass
import json
import os
import platform
import subprocess
import sys


def read_cfg(path):
    """pyvenv.cfg as a dict of lower-cased keys; None when the file is missing or unreadable."""
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return None
    cfg = {}
    for line in lines:
        key, sep, value = line.partition('=')
        if sep:
            cfg[key.strip().lower()] = value.strip()
    return cfg


def series(version):
    """'3.11.7' or '3.11.7.final.0' -> '3.11'; '' when it does not look like a version."""
    parts = version.split('.')
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return ''
    return '%s.%s' % (parts[0], parts[1])


def venv_python_runs(python):
    """The venv interpreter's version when it runs, else ''."""
    if not os.path.exists(python):
        return ''
    try:
        out = subprocess.run([python, '-c', 'import platform; print(platform.python_version())'],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return ''
    return out.stdout.decode('ascii', 'replace').strip()


def main():
    path = sys.argv[1]
    host_version = platform.python_version()
    state = {
        'host': {'version': host_version, 'series': series(host_version), 'executable': sys.executable},
        'user': getpass.getuser(),
        'venv': {'path': path, 'exists': os.path.isdir(path), 'empty': True, 'is_venv': False,
                 'cfg_version': '', 'cfg_series': '', 'python_version': ''},
        'recreate': False,
        'reason': '',
    }
    venv = state['venv']
    if venv['exists']:
        venv['empty'] = not os.listdir(path)
        cfg = read_cfg(os.path.join(path, 'pyvenv.cfg'))
        if cfg is not None:
            venv['is_venv'] = True
            venv['cfg_version'] = cfg.get('version') or cfg.get('version_info') or ''
            venv['cfg_series'] = series(venv['cfg_version'])
            venv['python_version'] = venv_python_runs(os.path.join(path, 'bin', 'python'))

    if venv['is_venv']:
        if venv['cfg_series'] != state['host']['series']:
            state['recreate'] = True
            state['reason'] = ('the venv was made by Python %s (pyvenv.cfg version) but the host interpreter %s is '
                               'Python %s' % (venv['cfg_version'] or 'of unknown version', sys.executable,
                                              host_version))
        elif not venv['python_version']:
            state['recreate'] = True
            state['reason'] = 'the venv interpreter %s does not run' % os.path.join(path, 'bin', 'python')

    print(json.dumps(state, sort_keys=True))


if __name__ == '__main__':
    main()
