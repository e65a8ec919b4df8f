# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What goes over the wire, and a server that dies in the middle of a download."""

import base64
import glob
import hashlib
import json
import os
import subprocess
import time
import urllib.parse

import pytest

import local_s3
from conftest import ROOT, ansible_env, md5_of, venv_bin
from test_minio_support import MIB, connection, playbook_for, step, write_random

from ansible_collections.mt5crs.gpu_orchestrator.plugins.module_utils import _s3


def text(value):
    return value.decode('ascii') if isinstance(value, bytes) else value


def b64md5(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode('ascii')


@pytest.mark.parametrize('size', [3 * MIB, 12 * MIB + 7])
def test_every_upload_request_carries_content_md5(tmp_path, s3_server, s3_client, size):
    """Single PutObject and each UploadPart carry Content-MD5 of their own body; the ETag is what was sent."""
    creds = s3_server.credentials
    bucket = 'mt5crs-wire-%d' % size
    s3_client.create_bucket(Bucket=bucket)
    src = write_random(tmp_path / 'src.bin', size, seed=size)
    data = open(src, 'rb').read()
    params = dict(connection(creds), multipart_threshold_mib=5, multipart_chunksize_mib=5, max_concurrency=3)
    client = _s3.make_client(params)
    sent = []

    def record(request, **kwargs):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        sent.append((request.method, query.get('partNumber', [None])[0], text(request.headers.get('Content-MD5')),
                     text(request.headers.get('x-amz-meta-md5'))))

    client.meta.events.register('before-send.s3', record)
    recorder = _s3.ContentMD5Recorder()
    recorder.register(client)
    with open(src, 'rb') as handle:
        reader = _s3.HashingReader(handle)
        with _s3.transfer_manager(client, _s3.transfer_config(params)) as manager:
            manager.upload(reader, bucket, 'obj', extra_args={'Metadata': {}}).result()

    assert reader.complete and reader.hexdigest() == hashlib.md5(data).hexdigest()
    uploads = [entry for entry in sent if entry[0] == 'PUT']
    if size < 5 * MIB:
        assert uploads == [('PUT', None, b64md5(data), hashlib.md5(data).hexdigest())]
    else:
        by_part = dict((int(number), md5) for _method, number, md5, _meta in uploads)
        assert sorted(by_part) == [1, 2, 3]
        for number, md5 in by_part.items():
            assert md5 == b64md5(data[(number - 1) * 5 * MIB:number * 5 * MIB])
    head = s3_client.head_object(Bucket=bucket, Key='obj')
    assert head['ETag'].strip('"') == recorder.expected_etag()


def test_server_killed_mid_download(tmp_path):
    """The server dies while bytes arrive: a clear failure, no dest, no temporary file."""
    server = local_s3.MotoServer(log_path=str(tmp_path / 'server.log'))
    creds = server.start()
    try:
        import boto3
        s3 = boto3.client('s3', endpoint_url=creds['endpoint_url'], region_name=creds['region'],
                          aws_access_key_id=creds['access_key'], aws_secret_access_key=creds['secret_key'])
        s3.create_bucket(Bucket='mt5crs-kill')
        src = write_random(tmp_path / 'ds.bin', 6 * MIB, seed=9)
        s3.put_object(Bucket='mt5crs-kill', Key='ds.bin', Body=open(src, 'rb').read(),
                      Metadata={'md5': md5_of(src)})
        gpu = tmp_path / 'gpu'
        gpu.mkdir()
        dest = gpu / 'ds.bin'
        play = tmp_path / 'play.yml'
        play.write_text(json.dumps(playbook_for([step(
            'minio_object', mode='get', bucket='mt5crs-kill', key='ds.bin', dest=str(dest), max_bandwidth_mib=1.0,
            max_concurrency=1, **connection(creds, max_attempts=2, connect_timeout=1, read_timeout=5))], tmp_path)))
        proc = subprocess.Popen([venv_bin('ansible-playbook'), '-i', 'localhost,', str(play)], cwd=ROOT,
                                env=ansible_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            partial = [p for p in glob.glob(str(gpu / '.ds.bin.mt5crs-part-*')) if os.path.getsize(p) > 0]
            if partial or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert partial, 'the download never started:\n%s' % proc.communicate()[0][-3000:]
        server.proc.kill()
        output = proc.communicate(timeout=300)[0]
    finally:
        server.stop()

    result = json.loads((tmp_path / 'step-000.json').read_text())
    assert result['failed'], result
    assert 'Failed to download s3://mt5crs-kill/ds.bin' in result['msg']
    assert 'unreachable or connection lost' in result['msg'], result['msg']
    assert not dest.exists()
    assert glob.glob(str(gpu / '.*')) == []
    assert creds['secret_key'] not in output
