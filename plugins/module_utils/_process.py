# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a probe command with a time limit. Private to mt5crs.gpu_orchestrator: no stable API.

AnsibleModule.run_command has no time limit in ansible-core 2.16 to 2.19 and cannot start the child
in a session of its own; a hung driver call (nvidia-smi waiting on a wedged GPU) or a grandchild
holding the pipes would then hang the whole play. This helper bounds both.
"""

from __future__ import annotations

import os
import signal
import subprocess


def c_locale_env():
    """The current environment with the C locale, so tools print parseable, untranslated text."""
    env = dict(os.environ)
    env.update({'LC_ALL': 'C', 'LANG': 'C'})
    return env


def run(argv, timeout):
    """Run argv with the C locale; return (rc, stdout, stderr). Raises OSError and subprocess.TimeoutExpired."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=c_locale_env(), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Stop the whole process group, so that children holding the pipes go too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.communicate()
        raise
    return proc.returncode, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')
