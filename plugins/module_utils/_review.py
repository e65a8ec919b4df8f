# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Review gate helpers: syntax gate, reviewer backends and the approvals ledger.

This module is private to the mt5crs.gpu_orchestrator collection; its interface may change
without notice. It is used on the controller only (by the script_review module, which runs
there, and by the approved_copy action plugin), so it may use the standard library freely.

Vocabulary:
- Gate 1 (syntax): Python compiles, shell parses (bash -n) and has no shellcheck errors, YAML loads.
- Gate 2 (review): one or more reviewer backends (static, llm, command) each return a verdict
  dict ``{verdict: approve|reject|error, findings: [...], notes: [...], session_id, tokens, error}``.
- The ledger is a JSON Lines file; for a (path, sha256) pair the newest review entry decides.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import posixpath
import re
import shutil
import socket
import subprocess
import sys
import urllib.error

from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

VERDICTS = ('approve', 'reject')
REVIEWERS = ('static', 'llm', 'command')
SEVERITIES = ('low', 'medium', 'high')
SHELLCHECK_LEVELS = ('error', 'warning', 'info', 'style')
ALWAYS_WRITABLE = ('/dev/null', '/dev/stdout', '/dev/stderr', '/dev/tty')
LEDGER_FILE_MODE = 0o640
LEDGER_DIR_MODE = 0o750


class ReviewError(Exception):
    """Base class of every failure raised by the review helpers."""


class ToolError(ReviewError):
    """A checking tool (bandit, shellcheck, bash) is missing or failed to run."""


class ReviewerError(ReviewError):
    """A reviewer backend failed: HTTP error, timeout, or an answer that is not a verdict."""


class LedgerError(ReviewError):
    """The approvals ledger cannot be read or written."""


# ---------------------------------------------------------------------------------------------
# Files and tools

def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def detect_kind(path, text=''):
    """Return 'python', 'shell', 'yaml' or 'other' from the file name, else from the shebang line."""
    lower = path.lower()
    if lower.endswith('.py'):
        return 'python'
    if lower.endswith(('.sh', '.bash')):
        return 'shell'
    if lower.endswith(('.yml', '.yaml')):
        return 'yaml'
    first = text.split('\n', 1)[0] if text else ''
    if first.startswith('#!'):
        if 'python' in first:
            return 'python'
        if re.search(r'\b(?:ba)?sh\b', first):
            return 'shell'
    return 'other'


def find_tool(name, explicit=None):
    """Locate a checking tool: the explicit path, else next to this interpreter (the venv), else PATH."""
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        raise ToolError('Failed to find %s: %s is not an executable file' % (name, explicit))
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found:
        return found
    raise ToolError('Failed to find %s: not next to %s and not on PATH (install it into the controller venv)'
                    % (name, sys.executable))


def run_tool(argv, timeout, stdin=None, env=None):
    """Run a checking tool without a shell; return (rc, stdout, stderr) as text."""
    try:
        proc = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, env=env, text=True, check=False)
    except subprocess.TimeoutExpired:
        raise ToolError('Failed to run %s: no answer within %ss' % (os.path.basename(argv[0]), timeout))
    except OSError as exc:
        raise ToolError('Failed to run %s: %s' % (argv[0], exc))
    return proc.returncode, proc.stdout, proc.stderr


def _finding(source, rule, message, severity='high', line=None):
    return {'source': source, 'rule': rule, 'severity': severity, 'line': line, 'message': message}


# ---------------------------------------------------------------------------------------------
# Gate 1: syntax

def _check(name, passed, detail=''):
    return {'check': name, 'passed': passed, 'detail': detail.strip()[:2000]}


def gate1(path, kind, text, shellcheck=None, bash='bash', timeout=120):
    """Syntax gate. Returns {passed, kind, checks: [{check, passed, detail}]}; raises ToolError if a tool is missing."""
    checks = []
    if kind == 'python':
        try:
            compile(text, path, 'exec', dont_inherit=True)
            checks.append(_check('py_compile', True))
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, 'lineno', None)
            checks.append(_check('py_compile', False, 'line %s: %s' % (line, getattr(exc, 'msg', exc))))
    elif kind == 'shell':
        bash_path = bash if os.path.isabs(bash) else shutil.which(bash)
        if not bash_path:
            raise ToolError('Failed to find bash on PATH: needed for the shell syntax check')
        rc, out, err = run_tool([bash_path, '-n', path], timeout)
        checks.append(_check('bash -n', rc == 0, err or out))
        errors = [c for c in shellcheck_comments(path, text, shellcheck, timeout) if c['level'] == 'error']
        checks.append(_check('shellcheck (errors)', not errors,
                             '; '.join('line %s SC%s: %s' % (c['line'], c['code'], c['message']) for c in errors)))
    elif kind == 'yaml':
        import yaml
        try:
            list(yaml.safe_load_all(text))
            checks.append(_check('yaml load', True))
        except yaml.YAMLError as exc:
            checks.append(_check('yaml load', False, str(exc)))
    else:
        checks.append(_check('none', True, 'no syntax check for this file type'))
    return {'passed': all(c['passed'] for c in checks), 'kind': kind, 'checks': checks}


def shellcheck_comments(path, text, shellcheck=None, timeout=120):
    """Run shellcheck (json1 output) and return its comments; raises ToolError on a tool failure."""
    exe = find_tool('shellcheck', shellcheck)
    argv = [exe, '--format=json1', '--severity=style']
    if not text.startswith('#!'):
        argv.append('--shell=bash')
    rc, out, err = run_tool(argv + [path], timeout)
    try:
        comments = json.loads(out)['comments']
    except (ValueError, KeyError, TypeError):
        raise ToolError('Failed to run shellcheck on %s: rc=%s, output is not json1: %s'
                        % (path, rc, (err or out)[:500]))
    return comments


# ---------------------------------------------------------------------------------------------
# Policy (part of the static reviewer)

_PIPE_TO_SHELL = [
    re.compile(r'\b(?:curl|wget)\b[^\n]*?\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+(?:\S+=\S*\s+)*)?'
               r'(?:/usr)?(?:/s?bin/)?(?:ba|da|z|k|c|fi)?sh\b'),
    re.compile(r'\b(?:curl|wget)\b[^\n]*?\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:/usr)?(?:/bin/)?'
               r'(?:python[0-9.]*|perl|ruby|node)\b'),
    re.compile(r'\b(?:ba|da|z|k)?sh\s+<\(\s*(?:curl|wget)\b'),
    re.compile(r'(?:\beval|\b(?:ba|da|z|k)?sh\s+-c)\s+["\']?\$\(\s*(?:curl|wget)\b'),
]

_TLS_OFF = [
    (re.compile(r'\bverify\s*=\s*False\b'), 'verify=False turns off certificate checks'),
    (re.compile(r'(?:^|\s)--insecure\b'), '--insecure turns off certificate checks'),
    (re.compile(r'\bcurl\b[^\n|;]*\s-[A-Za-z]*k[A-Za-z]*(?=\s|$)'), 'curl -k turns off certificate checks'),
    (re.compile(r'--no-check-certificate\b'), 'wget --no-check-certificate turns off certificate checks'),
    (re.compile(r'\bPYTHONHTTPSVERIFY\s*=\s*["\']?0'), 'PYTHONHTTPSVERIFY=0 turns off certificate checks'),
    (re.compile(r'\b_create_unverified_context\b'), 'an unverified SSL context turns off certificate checks'),
    (re.compile(r'\bCERT_NONE\b'), 'CERT_NONE turns off certificate checks'),
    (re.compile(r'\bcheck_hostname\s*=\s*False\b'), 'check_hostname=False turns off host name checks'),
    (re.compile(r'\bGIT_SSL_NO_VERIFY\b'), 'GIT_SSL_NO_VERIFY turns off certificate checks'),
    (re.compile(r'(?i)\bsslVerify\s*=\s*false\b'), 'http.sslVerify=false turns off certificate checks'),
    (re.compile(r'\bNODE_TLS_REJECT_UNAUTHORIZED\s*=\s*["\']?0'), 'NODE_TLS_REJECT_UNAUTHORIZED=0 turns off checks'),
    (re.compile(r'\bvalidate_certs\s*[:=]\s*["\']?(?:false|False|no|0)\b'), 'validate_certs off'),
    (re.compile(r'--trusted-host\b'), 'pip --trusted-host accepts an unverified index'),
]

_SECRET_WORDS = r'(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)'
_CREDENTIALS = [
    (re.compile(r'\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b'), 'aws-access-key-id',
     'an AWS access key id is written in the file'),
    (re.compile(r'-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----'), 'private-key', 'a private key block is in the file'),
    (re.compile(r'[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@"\']+:[^/\s:@"\'$]{3,}@'), 'url-credentials',
     'a URL carries a user name and password'),
    (re.compile(r'(?i)\b(?P<name>[a-z0-9_.-]*' + _SECRET_WORDS + r'[a-z0-9_.-]*)["\']?\s*[:=]\s*[rbuf]?'
                r'(?P<q>["\'])(?P<value>[^"\'\s]{4,})(?P=q)'), 'credential-literal',
     'a literal value is assigned to %s'),
    (re.compile(r'(?i)^\s*(?:export\s+)?(?P<name>[a-z0-9_]*' + _SECRET_WORDS + r'[a-z0-9_]*)='
                r'(?P<value>[^\s"\'$`{(][^\s;]{3,})'), 'credential-literal', 'a literal value is assigned to %s'),
    (re.compile(r'(?i)^\s*-?\s*(?P<name>[a-z0-9_.-]*' + _SECRET_WORDS + r'[a-z0-9_.-]*)\s*:\s+'
                r'(?P<value>[^\s#"\'{$!&*|>][^\s#]{3,})\s*$'), 'credential-literal',
     'a literal value is assigned to %s'),
]
_NOT_SECRET_VALUE = re.compile(r'^(?:\{\{.*|\$.*|<.*>|x+|\*+|changeme|none|null|true|false|example.*)$', re.I)

_SHELL_WRITES = [
    re.compile(r'(?:^|[^<>=\-\w])(?:\d|&)?>>?\|?\s*["\']?(?P<path>/[^\s;|&<>()"\'`]+)'),
    re.compile(r'\btee\s+(?:-\S+\s+)*["\']?(?P<path>/[^\s;|&<>()"\'`]+)'),
]
_PYTHON_WRITES = [
    re.compile(r'\bopen\(\s*[rbuf]*["\'](?P<path>/[^"\']+)["\']\s*,\s*(?:mode\s*=\s*)?[rbuf]*["\']'
               r'(?P<mode>[^"\']*)["\']'),
    re.compile(r'\bPath\(\s*[rbuf]*["\'](?P<path>/[^"\']+)["\']\s*\)\s*\.\s*'
               r'(?P<mode>write_text|write_bytes|touch|mkdir|unlink|rename|replace|chmod)\b'),
]

POLICY_RULES = {
    'pipe-to-shell': 'No download piped into a shell or interpreter (curl/wget ... | sh, bash <(curl ...)).',
    'aws-access-key-id': 'No AWS-style access key ids in files.',
    'private-key': 'No private key blocks in files.',
    'url-credentials': 'No user:password@ in URLs.',
    'credential-literal': 'No literal values assigned to password/secret/token/key names.',
    'tls-verify-off': 'No TLS certificate or host name verification turned off.',
    'write-outside-allowed': 'No writes to absolute paths outside the configured directories.',
}


def _comment_line(line, kind):
    stripped = line.lstrip()
    return kind in ('python', 'shell', 'yaml') and stripped.startswith('#') and not stripped.startswith('#!')


def _allowed(path, allowed_dirs):
    norm = posixpath.normpath(path)
    if norm in ALWAYS_WRITABLE or norm.startswith('/dev/fd/'):
        return True
    for base in allowed_dirs:
        base = posixpath.normpath(base)
        if base == '/' or norm == base or norm.startswith(base + '/'):
            return True
    return False


def policy_findings(text, kind, allowed_dirs=()):
    """Apply the documented policy line by line; findings never quote the offending value."""
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        if _comment_line(line, kind):
            continue

        if any(rx.search(line) for rx in _PIPE_TO_SHELL):
            findings.append(_finding('policy', 'pipe-to-shell', 'a download is piped into a shell or interpreter',
                                     line=number))

        for rx, message in _TLS_OFF:
            if rx.search(line):
                findings.append(_finding('policy', 'tls-verify-off', message, line=number))
                break

        for rx, rule, message in _CREDENTIALS:
            match = rx.search(line)
            if not match:
                continue
            if 'value' in rx.groupindex:
                if _NOT_SECRET_VALUE.match(match.group('value')):
                    continue
                message = message % ("'%s'" % match.group('name'))
            findings.append(_finding('policy', rule, message, line=number))
            break

        writes = []
        if kind == 'shell':
            writes = [m.group('path') for rx in _SHELL_WRITES for m in rx.finditer(line)]
        elif kind == 'python':
            opened, methods = _PYTHON_WRITES
            writes = [m.group('path') for m in opened.finditer(line) if set(m.group('mode')) & set('wax+')]
            writes += [m.group('path') for m in methods.finditer(line)]
        for path in writes:
            if not _allowed(path, allowed_dirs):
                findings.append(_finding('policy', 'write-outside-allowed',
                                         'writes to %s, outside the allowed directories %s'
                                         % (path, list(allowed_dirs) or '(none configured)'), line=number))
    return findings


# ---------------------------------------------------------------------------------------------
# Gate 2 backends

def _verdict(reviewer, verdict, findings=None, notes=None, session_id=None, tokens=None, error=None):
    return {'reviewer': reviewer, 'verdict': verdict, 'findings': findings or [], 'notes': notes or [],
            'session_id': session_id, 'tokens': tokens, 'error': error}


def bandit_findings(path, bandit=None, timeout=120):
    """Run bandit on one file (nosec comments ignored) and return its results as findings."""
    exe = find_tool('bandit', bandit)
    rc, out, err = run_tool([exe, '--format', 'json', '--quiet', '--ignore-nosec', path], timeout)
    try:
        report = json.loads(out)
    except ValueError:
        raise ToolError('Failed to run bandit on %s: rc=%s, output is not JSON: %s' % (path, rc, (err or out)[:500]))
    if report.get('errors'):
        raise ToolError('Failed to run bandit on %s: %s' % (path, report['errors']))
    return [_finding('bandit', item.get('test_id', '?'),
                     '%s (confidence %s)' % (item.get('issue_text', ''), str(item.get('issue_confidence', '')).lower()),
                     severity=str(item.get('issue_severity', 'high')).lower(), line=item.get('line_number'))
            for item in report.get('results', [])]


def review_static(path, kind, text, allowed_dirs=(), bandit=None, shellcheck=None, bandit_severity='medium',
                  shellcheck_severity='warning', timeout=120):
    """Static reviewer: bandit for Python, shellcheck for shell, and the policy for every file."""
    blocking = policy_findings(text, kind, allowed_dirs)
    notes = []
    try:
        if kind == 'python':
            threshold = SEVERITIES.index(bandit_severity)
            for item in bandit_findings(path, bandit, timeout):
                level = SEVERITIES.index(item['severity']) if item['severity'] in SEVERITIES else len(SEVERITIES)
                (blocking if level >= threshold else notes).append(item)
        elif kind == 'shell':
            threshold = SHELLCHECK_LEVELS.index(shellcheck_severity)
            for comment in shellcheck_comments(path, text, shellcheck, timeout):
                level = comment.get('level', 'error')
                item = _finding('shellcheck', 'SC%s' % comment.get('code'), comment.get('message', ''),
                                severity={'error': 'high', 'warning': 'medium'}.get(level, 'low'),
                                line=comment.get('line'))
                rank = SHELLCHECK_LEVELS.index(level) if level in SHELLCHECK_LEVELS else 0
                (blocking if rank <= threshold else notes).append(item)
    except ToolError as exc:
        return _verdict('static', 'error', blocking, notes, error=str(exc))
    return _verdict('static', 'reject' if blocking else 'approve', blocking, notes)


LLM_SYSTEM_PROMPT = (
    "You review one file before it is copied to a GPU training server. Reject it when it: downloads "
    "and executes code (curl or wget piped to a shell), contains credentials, keys or tokens, turns off "
    "TLS certificate verification, writes outside the directories it is meant to use, opens network "
    "listeners or reverse shells, escalates privileges, exfiltrates data, or does anything its stated "
    "purpose does not need. Otherwise approve it. Answer with one JSON object and nothing else, in "
    'exactly this form: {"verdict": "approve" or "reject", "findings": [{"line": <int or null>, '
    '"severity": "low"|"medium"|"high", "message": "<one sentence>"}]}.'
)


def parse_verdict(text, source):
    """Parse a reviewer's answer into (verdict, findings). Raises ReviewerError unless it is a strict verdict."""
    if not isinstance(text, str):
        raise ReviewerError('Failed to parse %s verdict: expected a JSON text, got %s' % (source, type(text).__name__))
    body = text.strip()
    fenced = re.match(r'^```(?:json)?\s*\n(.*)\n```$', body, re.S)
    if fenced:
        body = fenced.group(1).strip()
    try:
        data = json.loads(body)
    except ValueError:
        raise ReviewerError('Failed to parse %s verdict: answer is not JSON (expected {"verdict": "approve"|"reject", '
                            '"findings": [...]}): %r' % (source, text[:200]))
    if not isinstance(data, dict) or data.get('verdict') not in VERDICTS:
        raise ReviewerError('Failed to parse %s verdict: "verdict" must be "approve" or "reject", got %r'
                            % (source, data.get('verdict') if isinstance(data, dict) else data))
    raw = data.get('findings', [])
    if not isinstance(raw, list):
        raise ReviewerError('Failed to parse %s verdict: "findings" must be a list, got %s'
                            % (source, type(raw).__name__))
    findings = []
    for item in raw:
        if isinstance(item, dict):
            severity = str(item.get('severity', 'medium')).lower()
            line = item.get('line') if isinstance(item.get('line'), int) else None
            findings.append(_finding(source, str(item.get('rule', source)), str(item.get('message', item))[:1000],
                                     severity=severity if severity in SEVERITIES else 'medium', line=line))
        else:
            findings.append(_finding(source, source, str(item)[:1000], severity='medium'))
    return data['verdict'], findings


def chat_completions_url(endpoint):
    url = endpoint.rstrip('/')
    if not re.match(r'^https?://', url):
        raise ReviewerError('LLM endpoint must be an http:// or https:// URL: %s' % endpoint)
    return url if url.endswith('/chat/completions') else url + '/chat/completions'


def review_llm(path, kind, text, sha256, endpoint, model, api_key=None, timeout=60, max_bytes=200000,
               ca_bundle=None, json_mode=False, temperature=0.0):
    """LLM reviewer over an OpenAI-compatible chat-completions API; every failure is a verdict 'error'."""
    name = 'llm:%s' % model
    # The file leaves the controller: never send one that trips the credential rules.
    blocking = ('aws-access-key-id', 'private-key', 'url-credentials', 'credential-literal')
    leaked = [f for f in policy_findings(text, kind) if f['rule'] in blocking]
    if leaked:
        for item in leaked:
            item['message'] += ' (file not sent to the LLM reviewer)'
        return _verdict(name, 'reject', leaked)
    if len(text.encode('utf-8')) > max_bytes:
        return _verdict(name, 'error', error='File too large for the LLM reviewer: %d bytes, limit %d'
                        % (len(text.encode('utf-8')), max_bytes))

    payload = {
        'model': model,
        'temperature': temperature,
        'messages': [
            {'role': 'system', 'content': LLM_SYSTEM_PROMPT},
            {'role': 'user', 'content': 'File: %s\nType: %s\nSHA-256: %s\n\n%s' % (path, kind, sha256, text)},
        ],
    }
    if json_mode:
        payload['response_format'] = {'type': 'json_object'}
    headers = {'Content-Type': 'application/json', 'Accept': 'application/json'}
    if api_key:
        headers['Authorization'] = 'Bearer %s' % api_key

    try:
        url = chat_completions_url(endpoint)
        # Certificates are always checked (against ca_bundle when given); credentials come only from api_key.
        with open_url(url, data=json.dumps(payload).encode('utf-8'), headers=headers, method='POST', timeout=timeout,
                      validate_certs=True, ca_path=ca_bundle, use_netrc=False) as response:
            body = response.read(4 * 1024 * 1024)
    except urllib.error.HTTPError as exc:
        return _verdict(name, 'error',
                        error='LLM reviewer answered HTTP %s %s at %s' % (exc.code, exc.reason, endpoint))
    except (socket.timeout, TimeoutError):
        return _verdict(name, 'error', error='LLM reviewer timed out after %ss at %s' % (timeout, endpoint))
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return _verdict(name, 'error', error='LLM reviewer timed out after %ss at %s' % (timeout, endpoint))
        return _verdict(name, 'error', error='Failed to reach LLM reviewer at %s: %s' % (endpoint, reason))
    except (OSError, ValueError, ReviewerError, UrlConnectionError) as exc:
        return _verdict(name, 'error', error='Failed to call LLM reviewer at %s: %s' % (endpoint, exc))

    try:
        answer = json.loads(body)
    except ValueError:
        return _verdict(name, 'error', error='LLM reviewer response is not JSON: %r' % body[:200])
    if not isinstance(answer, dict):
        return _verdict(name, 'error', error='LLM reviewer response is not a JSON object: %r' % body[:200])
    session_id = answer.get('id') if isinstance(answer.get('id'), str) else None
    usage = answer.get('usage') if isinstance(answer.get('usage'), dict) else {}
    tokens = {k: usage.get(k) for k in ('prompt_tokens', 'completion_tokens', 'total_tokens') if k in usage} or None
    try:
        content = answer['choices'][0]['message']['content']
        verdict, findings = parse_verdict(content, 'llm')
    except (KeyError, IndexError, TypeError):
        return _verdict(name, 'error', session_id=session_id, tokens=tokens,
                        error='LLM reviewer response has no choices[0].message.content: %r' % body[:200])
    except ReviewerError as exc:
        return _verdict(name, 'error', session_id=session_id, tokens=tokens, error=str(exc))
    return _verdict(name, verdict, findings, session_id=session_id, tokens=tokens)


def review_command(path, kind, sha256, argv, timeout=120):
    """External reviewer: runs argv + [path] without a shell, MT5CRS_REVIEW_* set; reads a JSON verdict."""
    name = 'command:%s' % os.path.basename(argv[0]) if argv else 'command'
    if not argv:
        return _verdict(name, 'error', error='No reviewer command configured')
    env = dict(os.environ, MT5CRS_REVIEW_PATH=path, MT5CRS_REVIEW_SHA256=sha256, MT5CRS_REVIEW_KIND=kind)
    try:
        rc, out, err = run_tool(list(argv) + [path], timeout, env=env)
    except ToolError as exc:
        return _verdict(name, 'error', error='Reviewer command failed: %s' % exc)
    if rc != 0:
        return _verdict(name, 'error', error='Reviewer command exited %s: %s' % (rc, (err or out).strip()[:500]))
    try:
        verdict, findings = parse_verdict(out, 'command')
        data = json.loads(re.sub(r'^```(?:json)?\s*\n|\n```$', '', out.strip()))
    except (ReviewerError, ValueError) as exc:
        return _verdict(name, 'error', error=str(exc))
    tokens = data.get('tokens') if isinstance(data.get('tokens'), dict) else None
    session_id = data.get('session_id') if isinstance(data.get('session_id'), str) else None
    return _verdict(name, verdict, findings, session_id=session_id, tokens=tokens)


def combine_verdicts(verdicts):
    """All reviewers must approve; any error makes the whole review an error."""
    if any(v['verdict'] == 'error' for v in verdicts):
        verdict = 'error'
    elif all(v['verdict'] == 'approve' for v in verdicts):
        verdict = 'approve'
    else:
        verdict = 'reject'
    session_ids = [v['session_id'] for v in verdicts if v.get('session_id')]
    tokens = [v['tokens'] for v in verdicts if v.get('tokens')]
    return {
        'reviewer': '+'.join(v['reviewer'] for v in verdicts),
        'verdict': verdict,
        'findings': [f for v in verdicts for f in v['findings']],
        'notes': [f for v in verdicts for f in v.get('notes', [])],
        'session_id': session_ids[0] if len(session_ids) == 1 else (session_ids or None),
        'tokens': tokens[0] if len(tokens) == 1 else (tokens or None),
        'error': '; '.join(v['error'] for v in verdicts if v.get('error')) or None,
        'reviewers': verdicts,
    }


# ---------------------------------------------------------------------------------------------
# Ledger

def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def read_ledger(ledger):
    """All entries of the ledger, oldest first; a missing ledger is empty. Raises LedgerError on a corrupt line."""
    if not os.path.exists(ledger):
        return []
    entries = []
    try:
        with open(ledger, 'r', encoding='utf-8') as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    raise LedgerError('Failed to read ledger %s: line %d is not JSON (expected one object per line)'
                                      % (ledger, number))
                if isinstance(entry, dict):
                    entries.append(entry)
    except OSError as exc:
        raise LedgerError('Failed to read ledger %s: %s' % (ledger, exc))
    return entries


def append_entry(ledger, entry):
    """Append one entry under an exclusive lock, flushed to disk; creates the ledger (0640) and its folder (0750)."""
    line = json.dumps(entry, sort_keys=True, separators=(',', ':')) + '\n'
    try:
        folder = os.path.dirname(os.path.abspath(ledger))
        if not os.path.isdir(folder):
            os.makedirs(folder, LEDGER_DIR_MODE)
        fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, LEDGER_FILE_MODE)
        with os.fdopen(fd, 'a', encoding='utf-8') as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError as exc:
        raise LedgerError('Failed to write ledger %s: %s' % (ledger, exc))
    return entry


def decisive_entry(entries, path, sha256):
    """The newest review entry (not an override record) for exactly this path and sha256, or None."""
    for entry in reversed(entries):
        if entry.get('type', 'review') == 'review' and entry.get('path') == path and entry.get('sha256') == sha256:
            return entry
    return None


def summarize(entry):
    """One line naming why an entry is not an approval."""
    if entry.get('error'):
        return entry['error']
    gate1_result = entry.get('gate1') or {}
    if not gate1_result.get('passed', True):
        failed = [c for c in gate1_result.get('checks', []) if not c.get('passed')]
        return 'syntax gate failed: ' + '; '.join('%s: %s' % (c['check'], c['detail']) for c in failed)
    findings = entry.get('findings') or []
    parts = ['%s %s%s: %s' % (f.get('source'), f.get('rule'), ' line %s' % f['line'] if f.get('line') else '',
                              f.get('message')) for f in findings[:5]]
    if len(findings) > 5:
        parts.append('and %d more' % (len(findings) - 5))
    return '; '.join(parts) or 'no findings given'


def approval_status(ledger, path, sha256):
    """Decide whether (path, sha256) may be deployed. Returns {approved, reason, detail, entry}.

    reason is one of: approved, no approval, changed since review, rejected, reviewer error.
    """
    entries = read_ledger(ledger)
    entry = decisive_entry(entries, path, sha256)
    if entry is None:
        others = [e for e in entries if e.get('type', 'review') == 'review' and e.get('path') == path]
        if others:
            last = others[-1]
            return {'approved': False, 'reason': 'changed since review', 'entry': None,
                    'detail': 'sha256 %s has no review; the last review (%s) was of sha256 %s'
                              % (sha256, last.get('verdict'), last.get('sha256'))}
        where = 'ledger %s has no entry for this path' % ledger if entries else 'ledger %s is empty or missing' % ledger
        return {'approved': False, 'reason': 'no approval', 'entry': None, 'detail': where}
    verdict = entry.get('verdict')
    if verdict == 'approve':
        return {'approved': True, 'reason': 'approved', 'entry': entry,
                'detail': 'approved by %s at %s' % (entry.get('reviewer'), entry.get('time'))}
    if verdict == 'error':
        return {'approved': False, 'reason': 'reviewer error', 'entry': entry, 'detail': summarize(entry)}
    return {'approved': False, 'reason': 'rejected', 'entry': entry, 'detail': summarize(entry)}


def review_entry(path, sha256, size, kind, gate1_result, gate2_result, when=None):
    """The ledger record of one review."""
    return {
        'type': 'review',
        'time': when or utc_now(),
        'path': path,
        'sha256': sha256,
        'size': size,
        'kind': kind,
        'gate1': gate1_result,
        'gate2': gate2_result,
        'reviewer': gate2_result.get('reviewer'),
        'verdict': gate2_result.get('verdict'),
        'findings': gate2_result.get('findings', []),
        'session_id': gate2_result.get('session_id'),
        'tokens': gate2_result.get('tokens'),
        'error': gate2_result.get('error'),
    }


def override_entry(path, sha256, status, host, dest, user=None):
    """The ledger record of an emergency override: never counts as an approval."""
    return {'type': 'override', 'time': utc_now(), 'path': path, 'sha256': sha256, 'verdict': 'override',
            'bypassed': status.get('reason'), 'detail': status.get('detail'), 'host': host, 'dest': dest,
            'user': user}


def review_file(path, ledger, reviewers=('static',), force=False, allowed_dirs=(), bandit=None, shellcheck=None,
                bandit_severity='medium', shellcheck_severity='warning', llm=None, command=None, tool_timeout=120,
                check_mode=False):
    """Review one file unless an approval for its current sha256 exists. Returns a result dict with 'changed'."""
    real = os.path.realpath(path)
    try:
        with open(real, 'rb') as handle:
            data = handle.read()
    except OSError as exc:
        raise ReviewError('Failed to read %s: %s' % (path, exc))
    sha256 = sha256_bytes(data)
    text = data.decode('utf-8', errors='replace')
    kind = detect_kind(real, text)
    result = {'path': real, 'sha256': sha256, 'kind': kind, 'reviewed': False, 'changed': False}

    status = approval_status(ledger, real, sha256)
    if not force and status['reason'] in ('approved', 'rejected'):
        entry = status['entry']
        result.update(verdict=entry.get('verdict'), reviewer=entry.get('reviewer'), findings=entry.get('findings', []),
                      session_id=entry.get('session_id'), tokens=entry.get('tokens'), time=entry.get('time'),
                      status=status['reason'], detail=status['detail'])
        return result
    if check_mode:
        result.update(verdict=None, status='would review', detail=status['detail'], changed=True)
        return result

    # Gate 1, then Gate 2 only when the syntax gate passed.
    try:
        gate1_result = gate1(real, kind, text, shellcheck=shellcheck, timeout=tool_timeout)
    except ToolError as exc:
        gate1_result = {'passed': False, 'kind': kind, 'checks': [], 'error': str(exc)}
    if gate1_result.get('error'):
        gate2_result = _verdict('gate1', 'error', error='Syntax gate could not run: %s' % gate1_result['error'])
    elif not gate1_result['passed']:
        gate2_result = dict(_verdict('+'.join(reviewers), 'reject'), skipped='syntax gate failed')
    else:
        verdicts = []
        for name in reviewers:
            if name == 'static':
                verdicts.append(review_static(real, kind, text, allowed_dirs, bandit, shellcheck, bandit_severity,
                                              shellcheck_severity, tool_timeout))
            elif name == 'llm':
                options = dict(llm or {})
                if not options.get('endpoint') or not options.get('model'):
                    verdicts.append(_verdict('llm', 'error', error='LLM reviewer needs endpoint and model'))
                else:
                    verdicts.append(review_llm(real, kind, text, sha256, **options))
            elif name == 'command':
                options = dict(command or {})
                verdicts.append(review_command(real, kind, sha256, options.get('argv') or [],
                                               options.get('timeout', tool_timeout)))
            else:
                verdicts.append(_verdict(name, 'error', error='Unknown reviewer %r, expected one of %s'
                                         % (name, list(REVIEWERS))))
        gate2_result = combine_verdicts(verdicts)

    entry = append_entry(ledger, review_entry(real, sha256, len(data), kind, gate1_result, gate2_result))
    decided = approval_status(ledger, real, sha256)
    result.update(verdict=entry['verdict'], reviewer=entry['reviewer'], findings=entry['findings'],
                  session_id=entry['session_id'], tokens=entry['tokens'], time=entry['time'], gate1=gate1_result,
                  notes=gate2_result.get('notes', []), status=decided['reason'], detail=decided['detail'],
                  reviewed=True, changed=True)
    return result
