# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: verify_log
type: notification
short_description: Write a tamper-evident, secret-free evidence log of a run
description:
  - Writes one JSON Lines file per run, C(<log_dir>/<run id>.jsonl), with a header, one record per task result per host
    (one per loop item as well) and a footer with the per-host statistics and the run's verdict.
  - Every line carries the SHA-256 of the line before it, the first one chains from a random nonce stored in the header,
    and every line carries the SHA-256 of its own content. C(tools/verify_log_check.py) checks a log offline and names
    the first line that breaks.
  - Results that prove something are kept in full (the evidence actions, and every task tagged C(evidence)); other
    results keep only small fields. Task arguments are never written.
  - Keys that look secret are redacted at any depth; values of variables and task arguments whose names look secret
    are scrubbed from every string written, failure messages included. Results of C(no_log) tasks and loop items keep
    only their status.
  - At the end of the run writes a human summary, C(<run id>.summary.txt), beside the log and prints a short version.
  - The files are created with mode C(0600) and every record is flushed (and by default synced) as it is written, so an
    interrupted run still leaves a log that can be checked.
version_added: 0.1.0
author:
  - mt5crs.gpu_orchestrator contributors (@mt5crs)
requirements:
  - Enable it in C(callbacks_enabled) of C(ansible.cfg), or with the E(ANSIBLE_CALLBACKS_ENABLED) environment variable.
options:
  log_dir:
    description:
      - Directory that receives C(<run id>.jsonl) and C(<run id>.summary.txt).
      - Created with mode C(0700) when missing.
      - Ignored when O(use_runner_artifacts=true) and O(runner_artifact_dir) is set.
    type: path
    default: ~/.ansible/verify_log
    env:
      - name: MT5CRS_VERIFY_LOG_DIR
    ini:
      - section: callback_verify_log
        key: log_dir
  redact_patterns:
    description:
      - Extra regular expressions, matched case-insensitively anywhere in a key (a dash counts as an underscore), that
        mark a key as secret, added to the built-in ones (C(secret), C(password), C(passwd), C(token), C(access_key),
        C(private_key), C(credential), C(authorization), C(api_key)).
      - A secret key's value is replaced by C(<redacted>) wherever it appears in a result; when a variable or a task
        argument has such a name, its value is also scrubbed from every string written.
    type: list
    elements: str
    default: []
    env:
      - name: MT5CRS_VERIFY_LOG_REDACT_PATTERNS
    ini:
      - section: callback_verify_log
        key: redact_patterns
  evidence_actions:
    description:
      - Modules and action plugins whose results are kept in full, matched by fully qualified or short name.
      - Tasks tagged C(evidence) are kept in full whatever their action.
    type: list
    elements: str
    default: [gpu_probe, minio_object, minio_object_info, minio_bucket, parquet_info, approved_copy, script_review]
    env:
      - name: MT5CRS_VERIFY_LOG_EVIDENCE_ACTIONS
    ini:
      - section: callback_verify_log
        key: evidence_actions
  summary:
    description:
      - Write the human summary C(<run id>.summary.txt) beside the log at the end of the run.
    type: bool
    default: true
    env:
      - name: MT5CRS_VERIFY_LOG_SUMMARY
    ini:
      - section: callback_verify_log
        key: summary
  display_summary:
    description:
      - Print a short summary (verdict, phases per host, log path, chain head) when the playbook ends.
    type: bool
    default: true
    env:
      - name: MT5CRS_VERIFY_LOG_DISPLAY_SUMMARY
    ini:
      - section: callback_verify_log
        key: display_summary
  fsync:
    description:
      - Sync the log to disk after every record, not only flush it.
      - Turning it off makes large runs faster but a machine crash may lose the last records.
    type: bool
    default: true
    env:
      - name: MT5CRS_VERIFY_LOG_FSYNC
    ini:
      - section: callback_verify_log
        key: fsync
  runner_artifact_dir:
    description:
      - The ansible-runner artifacts directory of this job. ansible-runner (and so AWX) exports it to the playbook
        as E(AWX_ISOLATED_DATA_DIR); there is usually no need to set it by hand.
    type: path
    env:
      - name: AWX_ISOLATED_DATA_DIR
    ini:
      - section: callback_verify_log
        key: runner_artifact_dir
  use_runner_artifacts:
    description:
      - When O(runner_artifact_dir) is set, write the log and the summary into its C(verify_log/) subdirectory instead
        of O(log_dir), so they travel back with the job's artifacts.
    type: bool
    default: true
    env:
      - name: MT5CRS_VERIFY_LOG_USE_RUNNER_ARTIFACTS
    ini:
      - section: callback_verify_log
        key: use_runner_artifacts
notes:
  - Values are scrubbed only when they are known to be secret, that is when they sit under a secret-looking key in a
    result, or are the value of a variable or task argument with a secret-looking name (values shorter than six
    characters are not scrubbed as text). A secret read by a lookup inside a template, with no secret-looking name on
    the way, cannot be recognised; mark such tasks C(no_log).
  - The chain proves that no line was changed, removed, reordered or inserted after it was written. Someone able to
    rewrite the whole file can forge a whole new chain; keep the chain head printed at the end of the run (job output)
    to compare with.
"""

EXAMPLES = r"""
# ansible.cfg
# [defaults]
# callbacks_enabled = mt5crs.gpu_orchestrator.verify_log
#
# [callback_verify_log]
# log_dir = ./logs/verify
# redact_patterns = ^vault_, _pin$

# Mark a task's output as evidence:
# - name: Record the GPU inventory
#   ansible.builtin.command: nvidia-smi -L
#   changed_when: false
#   tags: [evidence]

# Check a log offline:
#   python3 tools/verify_log_check.py logs/verify/20260504T101500Z-1a2b3c4d.jsonl
"""

import atexit
import datetime
import getpass
import hashlib
import json
import os
import re
import secrets
import socket
import time
from urllib.parse import quote

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ANSIBLE_CORE_VERSION
from ansible.template import Templar

FORMAT = 'mt5crs.verify_log/1'
COLLECTION = 'mt5crs.gpu_orchestrator'
REDACTED = '<redacted>'
HIDDEN = 'output hidden by no_log'
PHASES = ('preflight', 'review', 'env', 'publish', 'fetch', 'smoke')
ROLE_PHASES = {
    'gpu_preflight': 'preflight',
    'review_gate': 'review',
    'gpu_env': 'env',
    'dataset_publish': 'publish',
    'dataset_fetch': 'fetch',
    'gpu_smoke': 'smoke',
}
SECRET_KEY_PATTERNS = (
    'secret', 'password', 'passwd', 'token', 'access_key', 'private_key', 'credential', 'authorization', 'api_?key',
)
MIN_SECRET_LENGTH = 6
MAX_TEXT = 2000
MAX_ITEMS = 50

# Result keys never written: module arguments, diffs, duplicates of other keys, loop bodies (written per item).
_DROP_ALWAYS = frozenset(('invocation', 'diff', 'results', 'stdout_lines', 'stderr_lines', 'censored',
                          'ansible_loop_var', 'ansible_index_var', 'item', 'exception', 'deprecations'))
# Further keys dropped from results that are not evidence: bulky output and facts.
_DROP_PLAIN = frozenset(('stdout', 'module_stdout', 'ansible_facts', 'content', 'cmd'))
# Keys of a registered result that are metadata, not output, when collecting secret values from it.
_RESULT_META = frozenset(('start', 'end', 'delta', 'cmd', 'rc', 'changed', 'failed', 'skipped', 'invocation',
                          'warnings', 'deprecations', 'attempts', 'ansible_loop_var', 'ansible_index_var'))
_STATUS_RANK = {'skipped': 0, 'ok': 1, 'changed': 2, 'failed': 3, 'unreachable': 4}


# ----------------------------------------------------------------------------------------------------------------------
# Pure helpers (unit-tested without a playbook run)

def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def sha256_hex(data):
    if isinstance(data, str):
        data = data.encode('utf-8')
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj):
    """The one serialization used for lines and their hashes: sorted keys, no spaces, ASCII only."""
    return json.dumps(obj, sort_keys=True, separators=(',', ':'), ensure_ascii=True, default=str)


def chain_origin(nonce):
    """The value the header's `prev` carries: the SHA-256 of the run nonce (hex text)."""
    return sha256_hex(nonce)


def seal(record, seq, prev):
    """Return the line (without newline) for `record` at position `seq` after a line hashing to `prev`."""
    body = dict(record)
    body.pop('hash', None)
    body['seq'] = seq
    body['prev'] = prev
    body['hash'] = sha256_hex(canonical_json(body))
    return canonical_json(body)


def secret_key_regex(extra_patterns=()):
    """Compile the secret-key matcher from the built-in patterns plus `extra_patterns` (regular expressions)."""
    patterns = list(SECRET_KEY_PATTERNS) + [p for p in (extra_patterns or ()) if p]
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError('redact_patterns: not a valid regular expression: %r (%s)' % (pattern, exc))
    return re.compile('|'.join('(?:%s)' % p for p in patterns), re.IGNORECASE)


def key_is_secret(key, key_re):
    return isinstance(key, str) and bool(key_re.search(key.replace('-', '_')))


class SecretValues:
    """Known secret values and the regular expression that scrubs them (and their quoted forms) from text."""

    def __init__(self, min_length=MIN_SECRET_LENGTH):
        self.min_length = min_length
        self._values = set()
        self._regex = None

    def __len__(self):
        return len(self._values)

    def __contains__(self, value):
        return value in self._values

    def add(self, value):
        """Remember `value` (a string; other scalars are ignored); return True when it was new."""
        if not isinstance(value, str):
            return False
        value = value.strip()
        if len(value) < self.min_length:
            return False
        variants = {value, quote(value, safe=''), quote(value), json.dumps(value)[1:-1]}
        new = variants - self._values
        if new:
            self._values |= new
            self._regex = None
        return bool(new)

    def add_leaves(self, data, depth=0):
        """Remember every string inside `data`, skipping the metadata keys of registered task results."""
        if depth > 8:
            return
        if isinstance(data, dict):
            looks_like_result = 'changed' in data or 'failed' in data or 'rc' in data
            for key, value in data.items():
                if looks_like_result and key in _RESULT_META:
                    continue
                self.add_leaves(value, depth + 1)
        elif isinstance(data, (list, tuple, set)):
            for value in data:
                self.add_leaves(value, depth + 1)
        else:
            self.add(data if isinstance(data, str) else None)

    def scrub(self, text):
        if not self._values or not isinstance(text, str):
            return text
        if self._regex is None:
            ordered = sorted(self._values, key=len, reverse=True)
            self._regex = re.compile('|'.join(re.escape(v) for v in ordered))
        return self._regex.sub(REDACTED, text)


def redact(data, key_re, known=None, depth=0):
    """Copy `data` with secret-looking keys' values replaced and known secret values scrubbed from strings."""
    if depth > 64:
        return '<too deep>'
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            name = known.scrub(str(key)) if known is not None else str(key)
            if key_is_secret(str(key), key_re) and value not in (None, '', [], {}):
                out[name] = REDACTED
            else:
                out[name] = redact(value, key_re, known, depth + 1)
        return out
    if isinstance(data, (list, tuple, set)):
        return [redact(value, key_re, known, depth + 1) for value in data]
    if isinstance(data, str):
        return known.scrub(data) if known is not None else data
    if data is None or isinstance(data, (bool, int, float)):
        return data
    return redact(str(data), key_re, known, depth + 1)


def collect_secret_values(mapping, key_re, resolve, known, depth=0):
    """Walk `mapping` (variables or task arguments); resolve and remember the values under secret-looking keys.

    `resolve` turns a raw value into its final form (templating); it may raise, and the value is then skipped.
    """
    if depth > 6 or not isinstance(mapping, dict):
        return
    for key, value in mapping.items():
        if key in ('hostvars', 'vars', 'ansible_facts', 'groups', 'group_names', 'omit', 'environment'):
            continue
        if key_is_secret(key, key_re):
            try:
                resolved = resolve(value)
            except Exception:  # a value that cannot be resolved cannot reach a result either
                resolved = None
            known.add_leaves(resolved)
        elif isinstance(value, dict):
            collect_secret_values(value, key_re, resolve, known, depth + 1)


def phase_of(tags, role):
    """The site phase of a task: a phase tag wins, else the role's phase, else None."""
    for tag in tags or ():
        if tag in PHASES:
            return tag
    if role:
        return ROLE_PHASES.get(role.split('.')[-1])
    return None


def truncate(value, limit=MAX_TEXT):
    """Bound strings and lists of results that are not evidence."""
    if isinstance(value, str) and len(value) > limit:
        return '%s...(%d more characters)' % (value[:limit], len(value) - limit)
    if isinstance(value, list):
        kept = [truncate(v, limit) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            kept.append('...(%d more items)' % (len(value) - MAX_ITEMS))
        return kept
    if isinstance(value, dict):
        return {k: truncate(v, limit) for k, v in value.items()}
    return value


def _drop_duplicate_facts(result):
    """Drop facts that repeat keys already returned at the top level (gpu_probe returns both)."""
    facts = result.get('ansible_facts')
    if not isinstance(facts, dict):
        return
    kept = {name: value for name, value in facts.items()
            if not (isinstance(value, dict) and value and all(result.get(k) == v for k, v in value.items()))}
    if kept:
        result['ansible_facts'] = kept
    else:
        result.pop('ansible_facts')


def filter_result(result, evidence, status):
    """Keep what proves something: evidence in full; otherwise small fields, and stderr only for failures."""
    kept = {}
    for key, value in result.items():
        if key.startswith('_ansible_') or key in _DROP_ALWAYS:
            continue
        if not evidence and key in _DROP_PLAIN:
            continue
        if not evidence and key in ('stderr', 'module_stderr') and status != 'failed':
            continue
        kept[key] = value
    if evidence:
        _drop_duplicate_facts(kept)
        return kept
    return truncate(kept)


def combine_status(current, new):
    if current is None:
        return new
    return new if _STATUS_RANK[new] > _STATUS_RANK[current] else current


# ----------------------------------------------------------------------------------------------------------------------
# Summary

class Summary:
    """Gathers the per-host, per-phase verdicts and key evidence while records are written."""

    def __init__(self):
        self.hosts = {}
        self.objects = {}

    def _host(self, host):
        return self.hosts.setdefault(host, {'phases': {}, 'gpu': None, 'torch': None, 'failures': [], 'smoke': []})

    def add(self, record, s3_ref=None):
        entry = self._host(record['host'])
        phase = record.get('phase') or 'other'
        status = record['status']
        if (record.get('action') or '').split('.')[-1] == 'validate_argument_spec' and status == 'ok':
            # Roles validate their arguments whatever the tags; that alone does not mean the phase ran.
            return
        if status == 'failed' and record.get('ignored'):
            status = 'ok'
        entry['phases'][phase] = combine_status(entry['phases'].get(phase), status)

        if record['status'] in ('failed', 'unreachable') and not record.get('ignored'):
            message = (record.get('result') or {}).get('msg') or record.get('note') or record['status']
            entry['failures'].append('%s: %s' % (record['task'], truncate(str(message), 300)))

        result = record.get('result')
        if not isinstance(result, dict) or record['status'] not in ('ok', 'changed'):
            return
        action = (record.get('action') or '').split('.')[-1]
        if action == 'gpu_probe':
            if 'gpus' in result or 'gpu_count' in result:
                entry['gpu'] = result
            if isinstance(result.get('torch'), dict):
                entry['torch'] = result['torch']
        elif action == 'minio_object' and s3_ref and result.get('md5'):
            mode, bucket, key = s3_ref
            if mode in ('put', 'get'):
                sides = self.objects.setdefault('s3://%s/%s' % (bucket, key), {'put': {}, 'get': {}})
                sides[mode][record['host']] = result['md5']
        elif action == 'minio_object_info':
            self._add_manifest(result)
        elif action == 'parquet_info' and 'rows' in result:
            entry.setdefault('parquet', {})[phase] = result
        if phase == 'smoke' and isinstance(result.get('stdout'), str):
            lines = [line for line in result['stdout'].splitlines() if line.strip()]
            entry['smoke'] = lines[-3:]

    def _add_manifest(self, result):
        """Remember the md5 a dataset manifest (`<key>.manifest.json`, read with return_content) states."""
        obj = result.get('object') if isinstance(result.get('object'), dict) else {}
        key, content = obj.get('key') or result.get('key'), result.get('content')
        if not (result.get('bucket') and isinstance(key, str) and key.endswith('.manifest.json') and content):
            return
        try:
            manifest = json.loads(content) if isinstance(content, str) else content
        except ValueError:
            return
        if isinstance(manifest, dict) and isinstance(manifest.get('md5'), str):
            uri = 's3://%s/%s' % (result['bucket'], key[:-len('.manifest.json')])
            self.objects.setdefault(uri, {'put': {}, 'get': {}})['manifest'] = manifest['md5']

    @staticmethod
    def _inf_side(sides):
        """The INF-side md5s of an object: those put in this run, else the one its manifest states."""
        put = set(sides['put'].values())
        if not put and sides.get('manifest'):
            return {sides['manifest']}, 'manifest'
        return put, 'INF'

    def dataset_lines(self, host=None):
        lines = []
        for uri, sides in sorted(self.objects.items()):
            put, source = self._inf_side(sides)
            gets = sides['get'] if host is None else {h: m for h, m in sides['get'].items() if h == host}
            if host is not None and not gets:
                continue
            for get_host, md5 in sorted(gets.items()):
                if not put:
                    verdict = 'no INF-side md5 in this run'
                elif put == {md5}:
                    verdict = 'MATCH'
                else:
                    verdict = 'MISMATCH'
                lines.append('%s md5 %s %s / GPU %s (%s): %s' % (
                    uri, source, ','.join(sorted(put)) or '-', md5, get_host, verdict))
            if host is None and not gets and sides['put']:
                lines.append('%s md5 INF %s (put by %s), not fetched in this run' % (
                    uri, ','.join(sorted(put)), ','.join(sorted(sides['put']))))
        return lines

    def matches(self):
        """True when every fetched object's md5 equals the published one, None when nothing was compared."""
        compared = [(self._inf_side(s)[0], m) for s in self.objects.values() for m in s['get'].values()]
        compared = [(put, md5) for put, md5 in compared if put]
        if not compared:
            return None
        return all(put == {md5} for put, md5 in compared)

    @staticmethod
    def gpu_line(gpu):
        if not gpu:
            return None
        names = {}
        for item in gpu.get('gpus') or []:
            if isinstance(item, dict):
                names[item.get('name', '?')] = names.get(item.get('name', '?'), 0) + 1
        models = ', '.join('%d x %s' % (count, name) for name, count in sorted(names.items())) or 'no GPU'
        return 'GPU %s (count %s), driver %s, CUDA %s, state %s' % (
            models, gpu.get('gpu_count', len(gpu.get('gpus') or [])), gpu.get('driver_version') or '-',
            gpu.get('cuda_driver_version') or '-', gpu.get('state') or '-')

    @staticmethod
    def parquet_line(info):
        if not info:
            return None
        return 'parquet %s: %s rows, %d columns, schema %s, checks passed' % (
            info.get('path', '-'), info.get('rows'), len(info.get('columns') or []),
            str(info.get('schema_fingerprint') or '-')[:16])

    @staticmethod
    def torch_line(torch):
        if not torch:
            return None
        if torch.get('error') and not torch.get('version'):
            return 'torch: not importable (%s)' % truncate(str(torch['error']), 120)
        return 'torch %s (build %s, CUDA %s), cuda available: %s, devices %s' % (
            torch.get('version') or '-', torch.get('local_label') or '-', torch.get('cuda') or 'none',
            'yes' if torch.get('cuda_available') else 'no', torch.get('device_count', 0))

    def phase_evidence(self, host, phase):
        entry = self.hosts[host]
        lines = []
        if phase == 'preflight':
            lines.append(self.gpu_line(entry['gpu']))
        elif phase == 'env':
            lines.append(self.torch_line(entry['torch']))
        elif phase in ('publish', 'fetch'):
            for uri, sides in sorted(self.objects.items()):
                if phase == 'publish' and host in sides['put']:
                    lines.append('%s md5 %s' % (uri, sides['put'][host]))
            if phase == 'fetch':
                lines.extend(self.dataset_lines(host))
            lines.append(self.parquet_line((entry.get('parquet') or {}).get(phase)))
        elif phase == 'smoke':
            lines.extend('> %s' % line for line in entry['smoke'])
        return [line for line in lines if line]

    def render(self, header, footer, log_path, anchor):
        verdict = footer.get('verdict', 'unknown').upper()
        out = [
            'mt5crs.gpu_orchestrator verify log summary',
            '',
            'Run          %s' % header['run_id'],
            'Verdict      %s' % verdict,
            'Started      %s' % header['started'],
            'Ended        %s  (%.1f s)' % (footer.get('ended', '-'), footer.get('duration', 0.0)),
            'Playbook     %s' % ', '.join(header.get('playbooks') or ['-']),
            'Inventory    %s' % ', '.join(header.get('inventory') or ['-']),
            'Check mode   %s' % ('yes' if header.get('check_mode') else 'no'),
            'Controller   %s@%s, ansible-core %s, %s %s' % (
                header['controller']['user'], header['controller']['host'], header['ansible_core'],
                header['collection']['name'], header['collection']['version']),
            'Log          %s' % log_path,
            'Chain head   %s  (check: python3 tools/verify_log_check.py %s)' % (anchor, log_path),
        ]
        matched = self.matches()
        if matched is not None:
            sources = {self._inf_side(sides)[1] for sides in self.objects.values() if sides['get']}
            left = 'INF and GPU sides' if sources == {'INF'} else 'GPU side and the published manifest'
            out.append('Dataset md5  %s' % ('%s MATCH' % left if matched else 'MISMATCH between the %s' % left))

        stats = footer.get('stats') or {}
        for host in sorted(set(self.hosts) | set(stats)):
            out.extend(['', 'Host %s' % host])
            entry = self.hosts.get(host) or {'phases': {}, 'failures': []}
            phases = [p for p in PHASES if p in entry['phases']] + sorted(set(entry['phases']) - set(PHASES))
            for phase in phases:
                evidence = self.phase_evidence(host, phase) if phase in PHASES else []
                out.append('  %-10s %-12s %s' % (phase, entry['phases'][phase], evidence[0] if evidence else ''))
                out.extend('  %-10s %-12s %s' % ('', '', line) for line in evidence[1:])
            for failure in entry['failures'][:5]:
                out.append('  FAILED     %s' % failure)
            if host in stats:
                out.append('  stats      %s' % ' '.join('%s=%s' % kv for kv in sorted(stats[host].items())))

        dataset = self.dataset_lines()
        if dataset:
            out.extend(['', 'Dataset'] + ['  %s' % line for line in dataset])
        return '\n'.join(line.rstrip() for line in out) + '\n'

    def render_short(self, header, footer, log_path, anchor):
        out = ['VERIFY LOG %s  run %s' % (footer.get('verdict', 'unknown').upper(), header['run_id'])]
        for host in sorted(self.hosts):
            entry = self.hosts[host]
            phases = [p for p in PHASES if p in entry['phases']] + sorted(set(entry['phases']) - set(PHASES))
            out.append('  %s: %s' % (host, ', '.join('%s %s' % (p, entry['phases'][p]) for p in phases)))
        matched = self.matches()
        if matched is not None:
            out.append('  dataset md5: %s' % ('INF = GPU' if matched else 'MISMATCH'))
        out.append('  log %s' % log_path)
        out.append('  chain head %s' % anchor)
        return '\n'.join(out)


# ----------------------------------------------------------------------------------------------------------------------
# Log writer

class ChainWriter:
    """Appends sealed records to a new 0600 file, flushing (and syncing) each one."""

    def __init__(self, path, nonce, sync=True):
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, 'O_CLOEXEC', 0)
        fd = os.open(path, flags, 0o600)
        os.fchmod(fd, 0o600)
        self.path = path
        self._fh = os.fdopen(fd, 'w', encoding='ascii', newline='\n')
        self._sync = sync
        self.prev = chain_origin(nonce)
        self.seq = 0

    def write(self, record):
        line = seal(record, self.seq, self.prev)
        self._fh.write(line + '\n')
        self._fh.flush()
        if self._sync:
            os.fsync(self._fh.fileno())
        self.prev = sha256_hex(line)
        self.seq += 1
        return line

    def close(self):
        if not self._fh.closed:
            self._fh.close()


def collection_version():
    """Version of this collection, from MANIFEST.json (installed) or galaxy.yml (checkout)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        with open(os.path.join(root, 'MANIFEST.json'), encoding='utf-8') as handle:
            return json.load(handle)['collection_info']['version']
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        import yaml
        with open(os.path.join(root, 'galaxy.yml'), encoding='utf-8') as handle:
            return str(yaml.safe_load(handle)['version'])
    except Exception:  # a broken galaxy.yml must not stop the evidence log
        return 'unknown'


def write_private_file(path, text):
    """Write `text` to `path` (mode 0600) through a temporary file and a rename."""
    tmp = '%s.%s.tmp' % (path, secrets.token_hex(4))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _parts(result):
    """(task, host, result dict, task fields) of a task result; the public names exist from ansible-core 2.19 on."""
    if hasattr(type(result), 'task_fields'):
        return result.task, result.host, result.result, result.task_fields
    return result._task, result._host, result._result, result._task_fields


# ----------------------------------------------------------------------------------------------------------------------
# The callback

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'mt5crs.gpu_orchestrator.verify_log'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self._writer = None
        self._failed_open = False
        self._finished = False
        self._header = None
        self._started_at = None
        self._playbooks = []
        self._starts = {}
        self._item_starts = {}
        self._key_re = secret_key_regex()
        self._known = SecretValues()
        self._vars_cache = {}
        self._evidence_actions = set()
        self._summary = Summary()
        self._records = 0

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._key_re = secret_key_regex(self.get_option('redact_patterns'))
        self._evidence_actions = set(a.split('.')[-1] for a in self.get_option('evidence_actions') or ())
        self._log_dir = self.get_option('log_dir')
        artifact_dir = self.get_option('runner_artifact_dir')
        if artifact_dir and self.get_option('use_runner_artifacts'):
            self._log_dir = os.path.join(artifact_dir, 'verify_log')
        self._runner_artifact_dir = artifact_dir

    # -- opening and closing ------------------------------------------------------------------------------------------

    def _open(self):
        """Create the log and write the header, once; on failure warn once and keep quiet afterwards."""
        if self._writer is not None or self._failed_open or self._finished:
            return self._writer is not None
        started = utc_now()
        nonce = secrets.token_hex(32)
        run_id = '%s-%s' % (started.strftime('%Y%m%dT%H%M%SZ'), nonce[:8])
        path = os.path.join(self._log_dir, run_id + '.jsonl')
        try:
            os.makedirs(self._log_dir, mode=0o700, exist_ok=True)
            self._writer = ChainWriter(path, nonce, sync=self.get_option('fsync'))
        except OSError as exc:
            self._failed_open = True
            self._display.warning('verify_log: cannot create the evidence log: %s: %s' % (path, exc))
            return False

        self._started_at = time.time()
        cliargs = context.CLIARGS
        inventory = []
        for source in cliargs.get('inventory') or ():
            inventory.append(os.path.abspath(source) if os.path.exists(source) else source)
        self._header = {
            'type': 'header',
            'format': FORMAT,
            'run_id': run_id,
            'nonce': nonce,
            'started': iso(started),
            'ansible_core': ANSIBLE_CORE_VERSION,
            'collection': {'name': COLLECTION, 'version': collection_version()},
            'playbooks': [os.path.abspath(p) for p in (cliargs.get('args') or ())] or self._playbooks,
            'inventory': inventory,
            'controller': {'user': getpass.getuser(), 'host': socket.gethostname(), 'pid': os.getpid()},
            'check_mode': bool(cliargs.get('check')),
            'diff_mode': bool(cliargs.get('diff')),
            'verbosity': int(cliargs.get('verbosity') or 0),
            'tags': list(cliargs.get('tags') or ()),
            'skip_tags': list(cliargs.get('skip_tags') or ()),
            'limit': cliargs.get('subset'),
            'runner': {'artifact_dir': self._runner_artifact_dir,
                       'ident': os.path.basename(self._runner_artifact_dir.rstrip('/'))}
            if self._runner_artifact_dir else None,
        }
        self._write(self._header)
        atexit.register(self._close_interrupted)
        return True

    def _write(self, record):
        """Seal and append `record`; a record whose line would still hold a known secret is withheld."""
        line = seal(record, self._writer.seq, self._writer.prev)
        if self._known.scrub(line) != line:
            record = {key: record.get(key) for key in ('type', 'host', 'status', 'phase', 'start', 'end')}
            record['note'] = 'record withheld: it still held a known secret value after redaction'
        return self._writer.write(record)

    def _finish(self, stats_by_host, verdict):
        ended = utc_now()
        footer = {
            'type': 'footer',
            'ended': iso(ended),
            'duration': round(time.time() - self._started_at, 3),
            'records': self._records,
            'stats': stats_by_host,
            'verdict': verdict,
            'chain_head': self._writer.prev,
        }
        line = self._write(footer)
        anchor = sha256_hex(line)
        self._writer.close()
        self._finished = True
        footer['ended'] = iso(ended)
        return footer, anchor

    def _close_interrupted(self):
        """At interpreter exit without a play recap (interrupted run): close the chain and write the summary."""
        if self._writer is not None and not self._finished:
            footer, anchor = self._finish({}, 'interrupted')
            self._write_summary(footer, anchor)

    def _write_summary(self, footer, anchor):
        log_path = self._writer.path
        if self.get_option('summary'):
            summary_path = log_path[:-len('.jsonl')] + '.summary.txt'
            text = self._known.scrub(self._summary.render(self._header, footer, log_path, anchor))
            try:
                write_private_file(summary_path, text)
            except OSError as exc:
                self._display.warning('verify_log: cannot write the summary: %s: %s' % (summary_path, exc))
        if self.get_option('display_summary'):
            short = self._summary.render_short(self._header, footer, log_path, anchor)
            self._display.display(self._known.scrub(short))

    # -- secrets ------------------------------------------------------------------------------------------------------

    def _learn_secrets(self, host, task):
        """Remember the values of secret-looking variables and task arguments (templated) for this host."""
        try:
            play = task.get_play()
            manager = task.get_variable_manager()
            loader = task.get_loader()
        except Exception:
            play = manager = loader = None
        role = task._role.get_name() if getattr(task, '_role', None) else None
        cache_key = (host.name, getattr(play, '_uuid', None), role)
        variables = self._vars_cache.get(cache_key)
        fresh = variables is None
        if fresh:
            try:
                variables = manager.get_vars(play=play, host=host, task=task, include_hostvars=False)
            except Exception:  # no variables, no secrets to learn from them; the record is still written
                variables = {}
            self._vars_cache[cache_key] = variables

        templar = Templar(loader=loader, variables=variables)

        def resolve(value):
            return templar.template(value)

        if fresh:
            collect_secret_values(variables, self._key_re, resolve, self._known)
        collect_secret_values(getattr(task, 'vars', None) or {}, self._key_re, resolve, self._known)
        collect_secret_values(getattr(task, 'args', None) or {}, self._key_re, resolve, self._known)
        environment = getattr(task, 'environment', None)
        for block in environment if isinstance(environment, list) else [environment]:
            collect_secret_values(block if isinstance(block, dict) else {}, self._key_re, resolve, self._known)
        return templar

    def _forget_vars(self, host_name):
        for key in [k for k in self._vars_cache if k[0] == host_name]:
            del self._vars_cache[key]

    # -- records ------------------------------------------------------------------------------------------------------

    def _s3_ref(self, result, task, templar):
        """(mode, bucket, key) of a minio_object call: bucket and key from its result, the mode from its arguments.

        The result's own `mode` is the file mode of a downloaded file, so the transfer mode comes from the task's
        (templated) arguments, else from the presence of `dest`. Arguments are only read here, never written.
        """
        args = getattr(task, 'args', None) or {}
        try:
            mode = templar.template(args.get('mode'))
        except Exception:
            mode = None
        if mode not in ('put', 'get', 'delete'):
            mode = 'get' if 'dest' in result else 'put'
        bucket, key = result.get('bucket'), result.get('key')
        if not bucket or not key:
            return None
        return mode, self._known.scrub(str(bucket)), self._known.scrub(str(key))

    def _record(self, result, status, item=False, ignored=False):
        if not self._open():
            return
        task, host, data, fields = _parts(result)
        now = time.time()

        start_key = (host.name, task._uuid)
        task_start = self._starts.get(start_key, now)
        if item:
            start = self._item_starts.get(start_key, task_start)
            self._item_starts[start_key] = now
        else:
            start = task_start
            self._starts.pop(start_key, None)
            self._item_starts.pop(start_key, None)

        templar = self._learn_secrets(host, task)
        action = getattr(task, '_resolved_action', None) or task.action
        short_action = (action or '').split('.')[-1]
        tags = list(fields.get('tags') or getattr(task, 'tags', None) or ())
        role = task._role.get_name(include_role_fqcn=False) if getattr(task, '_role', None) else None
        try:
            play_name = task.get_play().get_name()
        except Exception:
            play_name = None
        evidence = short_action in self._evidence_actions or 'evidence' in tags
        hidden = bool(data.get('_ansible_no_log')) or 'censored' in data or (task.no_log is True and not item)

        record = {
            'type': 'task',
            'play': play_name,
            'role': role,
            'task': result.task_name,
            'action': action,
            'host': host.name,
            'item': None,
            'status': status,
            'phase': phase_of(tags, role),
            'start': iso(datetime.datetime.fromtimestamp(start, datetime.timezone.utc)),
            'end': iso(datetime.datetime.fromtimestamp(now, datetime.timezone.utc)),
            'duration': round(now - start, 3),
            'evidence': evidence and not hidden,
        }
        if ignored:
            record['ignored'] = True
        delegated = data.get('_ansible_delegated_vars')
        if isinstance(delegated, dict) and delegated.get('ansible_host'):
            record['delegated_to'] = delegated['ansible_host']

        if item:
            if hidden:
                record['item'] = '(hidden by no_log)'
            else:
                loop_var = data.get('ansible_loop_var', 'item')
                record['item'] = data.get('_ansible_item_label', data.get(loop_var))

        if hidden:
            record['hidden'] = True
            record['note'] = HIDDEN
        else:
            kept = filter_result(data, evidence, status)
            loop_results = data.get('results') if not item else None
            if isinstance(loop_results, list):
                counts = {}
                for loop_result in loop_results:
                    if isinstance(loop_result, dict):
                        one = ('failed' if loop_result.get('failed') else 'skipped' if loop_result.get('skipped')
                               else 'changed' if loop_result.get('changed') else 'ok')
                        counts[one] = counts.get(one, 0) + 1
                record['items'] = counts
            record['result'] = kept

        record = redact(record, self._key_re, self._known)
        self._write(record)
        self._records += 1

        s3_ref = self._s3_ref(data, task, templar) if short_action == 'minio_object' and not hidden else None
        self._summary.add(record, s3_ref)

        if short_action in ('set_fact', 'include_vars') or getattr(task, 'register', None) or 'ansible_facts' in data:
            self._forget_vars(host.name)

    # -- events -------------------------------------------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        self._playbooks.append(os.path.abspath(getattr(playbook, '_file_name', '') or ''))
        self._open()

    def v2_playbook_on_play_start(self, play):
        self._vars_cache.clear()
        self._open()

    def v2_runner_on_start(self, host, task):
        self._starts[(host.name, task._uuid)] = time.time()

    def v2_runner_on_ok(self, result):
        self._record(result, 'changed' if _parts(result)[2].get('changed') else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed', ignored=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_runner_item_on_ok(self, result):
        self._record(result, 'changed' if _parts(result)[2].get('changed') else 'ok', item=True)

    def v2_runner_item_on_failed(self, result):
        self._record(result, 'failed', item=True, ignored=_parts(result)[3].get('ignore_errors') is True)

    def v2_runner_item_on_skipped(self, result):
        self._record(result, 'skipped', item=True)

    def v2_playbook_on_stats(self, stats):
        if not self._open():
            return
        by_host = {}
        for host in sorted(stats.processed):
            by_host[host] = stats.summarize(host)
        failed = any(s.get('failures') or s.get('unreachable') for s in by_host.values())
        footer, anchor = self._finish(by_host, 'failed' if failed else 'passed')
        self._write_summary(footer, anchor)
