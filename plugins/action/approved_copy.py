# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mt5crs.gpu_orchestrator.approved_copy: copy a file only when its SHA-256 is approved.

The check and the copy use the same bytes: the source is read once, hashed, looked up in the
approvals ledger, written to a private staging folder on the controller, and that staged copy is
what ansible.builtin.copy transfers. A change to the source after the check cannot slip through.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _review

display = Display()

OWN_ARGS = ('ledger', 'emergency_override')
REFUSED_COPY_ARGS = ('content', 'remote_src')
DEFAULT_LEDGER_TAIL = os.path.join('logs', 'review', 'approvals.jsonl')


def default_ledger(playbook_dir=None):
    """Beside the ansible.cfg in use (the checkout root), else beside the playbook, else the current directory."""
    base = os.path.dirname(C.CONFIG_FILE) if C.CONFIG_FILE else (playbook_dir or os.getcwd())
    return os.path.join(base, DEFAULT_LEDGER_TAIL)


class ActionModule(ActionBase):

    TRANSFERS_FILES = True

    def _option(self, name, task_vars, var_name, default):
        if self._task.args.get(name) is not None:
            return self._task.args[name]
        value = task_vars.get(var_name)
        if value is None:
            return default
        return self._templar.template(value)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp

        try:
            return self._run(result, task_vars)
        except AnsibleActionFail as exc:
            result.update(exc.result)
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _run(self, result, task_vars):
        args = dict(self._task.args)
        for name in REFUSED_COPY_ARGS:
            if name == 'remote_src' and not boolean(args.get(name, False), strict=False):
                args.pop(name, None)
                continue
            if name in args:
                raise AnsibleActionFail('approved_copy does not take %s: only reviewed controller files are copied'
                                        % name)
        src = args.get('src')
        dest = args.get('dest')
        if not src or not dest:
            raise AnsibleActionFail('approved_copy needs src and dest, got src=%r dest=%r' % (src, dest))

        ledger = os.path.abspath(os.path.expanduser(to_native(
            self._option('ledger', task_vars, 'mt5crs_review_ledger', default_ledger(task_vars.get('playbook_dir'))))))
        try:
            override = boolean(self._option('emergency_override', task_vars, 'mt5crs_review_override', False),
                               strict=True)
        except TypeError as exc:
            raise AnsibleActionFail('emergency_override must be a boolean: %s' % exc)

        # Read the source once; these bytes are hashed, checked and copied.
        try:
            source = self._find_needle('files', src)
        except AnsibleError as exc:
            raise AnsibleActionFail(to_native(exc))
        source = os.path.realpath(source)
        if os.path.isdir(source):
            raise AnsibleActionFail('approved_copy copies single files; %s is a directory' % source)
        with open(source, 'rb') as handle:
            data = handle.read()
        sha256 = _review.sha256_bytes(data)

        try:
            status = _review.approval_status(ledger, source, sha256)
        except _review.ReviewError as exc:
            status = {'approved': False, 'reason': 'ledger unreadable', 'detail': str(exc), 'entry': None}
        entry = status.get('entry') or {}
        review = {
            'path': source,
            'sha256': sha256,
            'ledger': ledger,
            'status': status['reason'],
            'detail': status['detail'],
            'reviewer': entry.get('reviewer'),
            'session_id': entry.get('session_id'),
            'reviewed_at': entry.get('time'),
            'override': False,
        }
        result['review'] = review
        result['review_override'] = False

        if not status['approved']:
            message = 'approved_copy refused %s: %s (%s)' % (source, status['reason'], status['detail'])
            if not override:
                raise AnsibleActionFail(message, result=result)
            self._record_override(ledger, source, sha256, status, task_vars, dest)
            review['override'] = True
            result['review_override'] = True
            display.warning('EMERGENCY OVERRIDE of the review gate: copying UNAPPROVED %s (sha256 %s) to %s:%s; '
                            'it would have been refused: %s (%s). Recorded in %s.'
                            % (source, sha256, task_vars.get('inventory_hostname'), dest, status['reason'],
                               status['detail'], ledger))

        copy_args = {k: v for k, v in args.items() if k not in OWN_ARGS}
        staging = tempfile.mkdtemp(prefix='approved_copy-', dir=C.DEFAULT_LOCAL_TMP)
        try:
            staged = os.path.join(staging, os.path.basename(source))
            with open(staged, 'wb') as handle:
                handle.write(data)
            os.chmod(staged, stat.S_IMODE(os.stat(source).st_mode))
            copy_args['src'] = staged

            new_task = self._task.copy()
            for name in list(new_task.args):
                new_task.args.pop(name)
            new_task.args.update(copy_args)
            copy_action = self._shared_loader_obj.action_loader.get('ansible.legacy.copy', task=new_task,
                                                                    connection=self._connection,
                                                                    play_context=self._play_context,
                                                                    loader=self._loader, templar=self._templar,
                                                                    shared_loader_obj=self._shared_loader_obj)
            copied = copy_action.run(task_vars=task_vars)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

        copied['review'] = review
        copied['review_override'] = review['override']
        if copied.get('failed'):
            copied['msg'] = 'approved_copy of %s failed in copy: %s' % (source, copied.get('msg', ''))
        return copied

    def _record_override(self, ledger, source, sha256, status, task_vars, dest):
        entry = _review.override_entry(source, sha256, status, task_vars.get('inventory_hostname'), dest,
                                       user=os.environ.get('USER'))
        try:
            _review.append_entry(ledger, entry)
        except _review.ReviewError as exc:
            raise AnsibleActionFail('approved_copy override of %s not recorded, so refused: %s' % (source, exc))
