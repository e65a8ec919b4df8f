# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run an S3-compatible server on loopback for the embedded default and for the tests.

The server is moto's standalone server with signature checking switched on: the first
three requests create an IAM user, an access key and an allow-all policy, and from then on
a request signed with any other secret is refused with 403, as MinIO refuses it.

moto keeps objects in memory only, so for the demo the server stays up between runs
(``start`` is idempotent) and ``stop`` ends it. Credentials live in a 0600 JSON file in
the state directory; they are made anew whenever a new server process starts, because the
old server's IAM users went with it.

Usage:
    .venv/bin/python tools/local_s3.py start  [--state-dir DIR] [--host 127.0.0.1] [--port 9000]
    .venv/bin/python tools/local_s3.py status [--state-dir DIR]
    .venv/bin/python tools/local_s3.py stop   [--state-dir DIR]
    .venv/bin/python tools/local_s3.py env    [--state-dir DIR]   # endpoint only; never the secret
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

DEFAULT_STATE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '.demo', 's3')
CREDENTIALS_FILE = 'credentials.json'
PID_FILE = 'server.pid'
LOG_FILE = 'server.log'

ALLOW_ALL_POLICY = json.dumps({
    'Version': '2012-10-17',
    'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}],
})


class LocalS3Error(Exception):
    """Failed to start, reach or stop the local S3 server."""


def free_port(host='127.0.0.1'):
    """Return a TCP port that is free on host right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host, port):
    """True when something already accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _moto_server_command():
    exe = os.path.join(os.path.dirname(sys.executable), 'moto_server')
    if os.path.exists(exe):
        return [exe]
    found = shutil.which('moto_server')
    if found:
        return [found]
    raise LocalS3Error('Failed to find moto_server: install moto[server] into the interpreter running this tool '
                       '(%s)' % sys.executable)


def _wait_until_up(endpoint, proc=None, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise LocalS3Error('moto_server exited with status %s before it answered on %s'
                               % (proc.returncode, endpoint))
        try:
            urllib.request.urlopen(endpoint + '/moto-api/', timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise LocalS3Error('moto_server did not answer on %s within %.0f s' % (endpoint, timeout))


def _make_credentials(endpoint):
    import boto3
    # The three unauthenticated requests moto grants: user, key, policy.
    iam = boto3.client('iam', endpoint_url=endpoint, region_name='us-east-1',
                       aws_access_key_id='bootstrap', aws_secret_access_key='bootstrap')
    user = 'mt5crs-local'
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)['AccessKey']
    iam.put_user_policy(UserName=user, PolicyName='allow-all', PolicyDocument=ALLOW_ALL_POLICY)
    return {'endpoint_url': endpoint, 'access_key': key['AccessKeyId'], 'secret_key': key['SecretAccessKey'],
            'region': 'us-east-1'}


def write_private_json(path, data):
    """Write data as JSON to path with mode 0600, atomically."""
    tmp = '%s.tmp.%d' % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump(data, handle, indent=2)
            handle.write('\n')
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class MotoServer(object):
    """A moto server process with signature checking on (for tests: start, use, stop)."""

    def __init__(self, host='127.0.0.1', port=0, log_path=None):
        self.host = host
        self.port = port or free_port(host)
        self.endpoint_url = 'http://%s:%d' % (host, self.port)
        self.log_path = log_path
        self.proc = None
        self.credentials = None

    def start(self, detach=False):
        if port_in_use(self.host, self.port):
            raise LocalS3Error('Port %d on %s is already in use by another program: stop it, or choose a free port '
                               '(MT5CRS_LOCAL_S3_PORT=<port>, or --port)' % (self.port, self.host))
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT='3')
        for name in ('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'):
            env.pop(name, None)
        log = open(self.log_path, 'ab') if self.log_path else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(_moto_server_command() + ['-H', self.host, '-p', str(self.port)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                         start_new_session=detach)
        finally:
            if self.log_path:
                log.close()
        _wait_until_up(self.endpoint_url, self.proc)
        if self.proc.poll() is not None:
            raise LocalS3Error('moto_server exited with status %s right after it started on %s (see %s)'
                               % (self.proc.returncode, self.endpoint_url, self.log_path or 'its output'))
        try:
            self.credentials = _make_credentials(self.endpoint_url)
        except Exception as exc:
            self.stop()
            raise LocalS3Error('Failed to create credentials on the new server at %s: %s' % (self.endpoint_url, exc))
        return self.credentials

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def _read_pid(state_dir):
    try:
        with open(os.path.join(state_dir, PID_FILE)) as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def status(state_dir):
    """Return a dict describing the demo server, or None when it is not running."""
    pid = _read_pid(state_dir)
    cred_path = os.path.join(state_dir, CREDENTIALS_FILE)
    if not _alive(pid) or not os.path.exists(cred_path):
        return None
    with open(cred_path) as handle:
        creds = json.load(handle)
    try:
        _wait_until_up(creds['endpoint_url'], timeout=2)
    except LocalS3Error:
        return None
    return {'pid': pid, 'endpoint_url': creds['endpoint_url'], 'credentials_file': cred_path}


def start(state_dir, host='127.0.0.1', port=9000):
    """Start the demo server unless it already runs; return (changed, status dict)."""
    current = status(state_dir)
    if current:
        return False, current
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    stop(state_dir)
    server = MotoServer(host=host, port=port, log_path=os.path.join(state_dir, LOG_FILE))
    creds = server.start(detach=True)
    with open(os.path.join(state_dir, PID_FILE), 'w') as handle:
        handle.write('%d\n' % server.proc.pid)
    write_private_json(os.path.join(state_dir, CREDENTIALS_FILE), creds)
    return True, status(state_dir)


def stop(state_dir):
    """Stop the demo server; return True when a process was stopped."""
    pid = _read_pid(state_dir)
    stopped = False
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        for dummy in range(100):
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        stopped = True
    for name in (PID_FILE, CREDENTIALS_FILE):
        path = os.path.join(state_dir, name)
        if os.path.exists(path):
            os.unlink(path)
    return stopped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('action', choices=['start', 'stop', 'status', 'env'])
    parser.add_argument('--state-dir', default=os.environ.get('MT5CRS_LOCAL_S3_STATE_DIR', DEFAULT_STATE_DIR))
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=int(os.environ.get('MT5CRS_LOCAL_S3_PORT', '9000')))
    args = parser.parse_args(argv)
    try:
        if args.action == 'start':
            changed, info = start(args.state_dir, args.host, args.port)
            info['changed'] = changed
            print(json.dumps(info))
        elif args.action == 'stop':
            print(json.dumps({'changed': stop(args.state_dir)}))
        else:
            info = status(args.state_dir)
            if info is None:
                print(json.dumps({'running': False}))
                return 1
            info['running'] = True
            print(json.dumps(info))
    except LocalS3Error as exc:
        print('local_s3: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
