# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""minio_object, minio_object_info and minio_bucket through ansible-playbook against a real moto server."""

import glob
import hashlib
import os
import uuid

import pytest

from conftest import md5_of
from test_minio_support import MIB, connection, run_steps, step, write_random

pytestmark = pytest.mark.slow

SMALL_PARTS = dict(multipart_threshold_mib=5, multipart_chunksize_mib=5)


@pytest.fixture
def bucket(s3_client):
    name = 'mt5crs-%s' % uuid.uuid4().hex[:12]
    s3_client.create_bucket(Bucket=name)
    return name


def temp_files(directory):
    return glob.glob(os.path.join(str(directory), '.*mt5crs-part-*'))


def test_keys_round_trip_and_listing(tmp_path, s3_server, s3_client, bucket):
    creds = s3_server.credentials
    keys = ['plain.txt', 'with space/file name.txt', 'unicodé/данные/数据.txt', 'plus+sign.txt',
            'per%25cent%.txt',
            'hash#tag.txt', 'deep/ly/nested/prefix/x.txt']
    src = tmp_path / 'src.bin'
    write_random(src, 300 * 1024)
    empty = tmp_path / 'empty.bin'
    empty.write_bytes(b'')
    out = tmp_path / 'out'
    out.mkdir()

    steps = []
    for index, key in enumerate(keys):
        steps.append(step('minio_object', mode='put', bucket=bucket, key=key, content='body %d of %s' % (index, key),
                          **connection(creds)))
    steps.append(step('minio_object', mode='put', bucket=bucket, key='bin/src.bin', src=str(src), **connection(creds)))
    steps.append(step('minio_object', mode='put', bucket=bucket, key='bin/empty.bin', src=str(empty),
                      **connection(creds)))
    for index, key in enumerate(keys):
        steps.append(step('minio_object', mode='get', bucket=bucket, key=key, dest=str(out / ('k%d' % index)),
                          **connection(creds)))
    steps.append(step('minio_object', mode='get', bucket=bucket, key='bin/empty.bin', dest=str(out),
                      **connection(creds)))
    steps.append(step('minio_object', mode='get', bucket=bucket, key='bin/empty.bin', dest=str(out),
                      **connection(creds)))
    steps.append(step('minio_object_info', bucket=bucket, prefix='', **connection(creds)))
    steps.append(step('minio_object_info', bucket=bucket, key=keys[2], return_content=True, **connection(creds)))
    steps.append(step('minio_object_info', bucket=bucket, key='not/there', **connection(creds)))
    steps.append(step('minio_object_info', bucket=bucket, prefix='deep/', max_keys=5, **connection(creds)))
    steps.append(step('minio_object_info', bucket=bucket, prefix='', max_keys=2, **connection(creds)))
    results = run_steps(tmp_path, steps, secret=creds['secret_key'])

    puts = results[:len(keys) + 2]
    assert all(r['changed'] and not r.get('failed') for r in puts), puts
    for index, key in enumerate(keys):
        body = ('body %d of %s' % (index, key)).encode()
        assert puts[index]['md5'] == hashlib.md5(body).hexdigest()
        assert s3_client.get_object(Bucket=bucket, Key=key)['Body'].read() == body
        assert (out / ('k%d' % index)).read_bytes() == body
    assert puts[len(keys)]['md5'] == md5_of(src)
    assert puts[len(keys) + 1]['md5'] == hashlib.md5(b'').hexdigest() and puts[len(keys) + 1]['size'] == 0

    gets = results[len(keys) + 2:2 * len(keys) + 2]
    assert all(r['changed'] and r['md5_source'] == 'metadata' for r in gets), gets
    empty_get, empty_again = results[2 * len(keys) + 2:2 * len(keys) + 4]
    assert empty_get['changed'] and (out / 'empty.bin').read_bytes() == b''
    assert not empty_again['changed'] and empty_again['bytes_transferred'] == 0

    listing, one, missing, deep, capped = results[-5:]
    listed = dict((o['key'], o) for o in listing['objects'])
    assert sorted(listed) == sorted(keys + ['bin/src.bin', 'bin/empty.bin'])
    assert listed['bin/src.bin']['md5'] == md5_of(src) and listed['bin/src.bin']['size'] == src.stat().st_size
    assert listing['truncated'] is False
    assert one['exists'] and one['content'] == 'body 2 of %s' % keys[2]
    assert one['object']['stored_md5'] == puts[2]['md5'] and one['object']['metadata']['md5'] == puts[2]['md5']
    assert one['object']['last_modified']
    assert missing['exists'] is False and not missing.get('failed')
    assert [o['key'] for o in deep['objects']] == ['deep/ly/nested/prefix/x.txt']
    assert capped['count'] == 2 and capped['truncated'] is True


def test_multipart_put_get_idempotent_and_changed(tmp_path, s3_server, s3_client, bucket):
    creds = s3_server.credentials
    src = tmp_path / 'big.bin'
    write_random(src, 11 * MIB + 12345, seed=1)
    dest = tmp_path / 'fetched' / 'big.bin'
    dest.parent.mkdir()
    conn = connection(creds, **SMALL_PARTS)
    put = step('minio_object', mode='put', bucket=bucket, key='data/big.bin', src=str(src), **conn)
    get = step('minio_object', mode='get', bucket=bucket, key='data/big.bin', dest=str(dest), file_mode='0640', **conn)
    info = step('minio_object_info', bucket=bucket, key='data/big.bin', **connection(creds))
    copy_put = step('minio_object', mode='put', bucket=bucket, key='data/copy.bin', src=str(src),
                    multipart_md5='copy', **conn)
    copy_info = step('minio_object_info', bucket=bucket, key='data/copy.bin', **connection(creds))
    first = run_steps(tmp_path, [put, put, get, get, info, copy_put, copy_info], secret=creds['secret_key'])
    put1, put2, get1, get2, info1, put_copied, info_copied = first
    assert put1['changed'] and put1['bytes_transferred'] == src.stat().st_size and put1['md5'] == md5_of(src)
    assert put1['multipart'] and put1['parts'] == 3 and put1['part_size'] == 5 * MIB
    assert put_copied['changed'] and put_copied['md5'] == md5_of(src)
    assert info_copied['object']['stored_md5'] == md5_of(src) and info_copied['object']['metadata']['mt5crs-part-size']
    assert not put2['changed'] and put2['bytes_transferred'] == 0
    assert get1['changed'] and get1['bytes_transferred'] == src.stat().st_size and md5_of(dest) == md5_of(src)
    assert oct(dest.stat().st_mode & 0o777) == '0o640'
    assert not get2['changed'] and get2['bytes_transferred'] == 0
    assert info1['object']['stored_md5'] == md5_of(src)

    # Change the file: the put compares first, so the MD5 goes into the multipart upload itself and the
    # object keeps its multipart ETag; an unchanged get then has to recompute the local multipart ETag.
    write_random(src, 11 * MIB + 999, seed=2)
    second = run_steps(tmp_path, [put, info, get, get, put], secret=creds['secret_key'])
    put3, info2, get3, get4, put4 = second
    assert put3['changed'] and put3['multipart'] and put3['parts'] == 3 and put3['part_size'] == 5 * MIB
    assert info2['object']['multipart'] and info2['object']['md5'] == md5_of(src)
    assert info2['object']['part_size'] == 5 * MIB
    assert get3['changed'] and md5_of(dest) == md5_of(src)
    assert not get4['changed'] and get4['bytes_transferred'] == 0 and get4['multipart']
    assert not put4['changed'] and put4['bytes_transferred'] == 0
    assert oct(dest.stat().st_mode & 0o777) == '0o640'
    assert temp_files(dest.parent) == []


def test_replaced_bytes_with_stored_md5_fail_and_keep_dest(tmp_path, s3_server, s3_client, bucket):
    creds = s3_server.credentials
    src = tmp_path / 'good.bin'
    write_random(src, 7 * MIB, seed=3)
    good = md5_of(src)
    dest = tmp_path / 'gpu' / 'good.bin'
    dest.parent.mkdir()
    conn = connection(creds, **SMALL_PARTS)
    get = step('minio_object', mode='get', bucket=bucket, key='good.bin', dest=str(dest), **conn)
    run_steps(tmp_path, [step('minio_object', mode='put', bucket=bucket, key='good.bin', src=str(src), **conn), get])
    assert md5_of(dest) == good

    # Someone replaces the bytes, keeping the metadata that claims the old MD5.
    head = s3_client.head_object(Bucket=bucket, Key='good.bin')
    bad = bytearray(src.read_bytes())
    bad[4096] ^= 0xFF
    s3_client.put_object(Bucket=bucket, Key='good.bin', Body=bytes(bad), Metadata=head['Metadata'])
    bad_md5 = hashlib.md5(bytes(bad)).hexdigest()

    # Replaced again as a multipart upload by another tool: no stored MD5 at all.
    other = tmp_path / 'other.bin'
    other.write_bytes(bytes(bad))
    from boto3.s3.transfer import TransferConfig
    s3_client.upload_file(str(other), bucket, 'other.bin',
                          Config=TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB))
    dest2 = tmp_path / 'gpu' / 'other.bin'
    dest2.write_bytes(src.read_bytes())

    results = run_steps(tmp_path, [
        get,
        step('minio_object', mode='get', bucket=bucket, key='other.bin', dest=str(dest2), **conn),
        step('minio_object', mode='get', bucket=bucket, key='other.bin', dest=str(dest2), md5=good, **conn),
        step('minio_object', mode='get', bucket=bucket, key='good.bin', dest=str(dest), check=True, diff=True, **conn),
    ], secret=creds['secret_key'])
    tampered, no_md5, wrong_md5, predicted = results
    assert tampered['failed'] and good in tampered['msg'] and bad_md5 in tampered['msg'], tampered['msg']
    assert 'untouched' in tampered['msg']
    assert md5_of(dest) == good
    assert no_md5['failed'] and 'expected MD5' in no_md5['msg'] and 'verify' in no_md5['msg']
    assert wrong_md5['failed'] and good in wrong_md5['msg'] and bad_md5 in wrong_md5['msg']
    assert md5_of(dest2) == good
    assert predicted['changed'] and predicted['diff']['before']['md5'] == good
    assert temp_files(dest.parent) == []


def test_truncated_dest_and_stale_temp_are_replaced(tmp_path, s3_server, bucket):
    creds = s3_server.credentials
    src = tmp_path / 'ds.bin'
    write_random(src, 2 * MIB, seed=4)
    dest = tmp_path / 'gpu' / 'ds.bin'
    dest.parent.mkdir()
    conn = connection(creds)
    get = step('minio_object', mode='get', bucket=bucket, key='ds.bin', dest=str(dest), **conn)
    run_steps(tmp_path, [step('minio_object', mode='put', bucket=bucket, key='ds.bin', src=str(src), **conn), get])

    with open(str(dest), 'r+b') as handle:
        handle.truncate(MIB)
    stale = dest.parent / '.ds.bin.mt5crs-part-interrupted'
    stale.write_bytes(b'partial')
    unrelated = dest.parent / '.other.mt5crs-part-keep'
    unrelated.write_bytes(b'x')

    check, fixed, again = run_steps(tmp_path, [dict(get, check=True, diff=True), get, get],
                                    secret=creds['secret_key'])
    assert check['changed'] and check['diff']['before']['size'] == MIB and check['diff']['after']['size'] == 2 * MIB
    assert fixed['changed'] and fixed['bytes_transferred'] == 2 * MIB and md5_of(dest) == md5_of(src)
    assert fixed['stale_temp_removed'] == [str(stale)]
    assert not stale.exists() and unrelated.exists()
    assert not again['changed'] and again['bytes_transferred'] == 0


def test_check_mode_diff_overwrite_and_delete(tmp_path, s3_server, s3_client, bucket):
    creds = s3_server.credentials
    conn = connection(creds)
    dest = tmp_path / 'd.txt'

    def put(content, **extra):
        return step('minio_object', mode='put', bucket=bucket, key='m.txt', content=content, **dict(conn, **extra))

    results = run_steps(tmp_path, [
        dict(put('one'), check=True, diff=True),
        step('minio_object_info', bucket=bucket, key='m.txt', **conn),
        put('one'),
        dict(put('two'), check=True, diff=True),
        put('two', overwrite='never'),
        put('one', overwrite='always'),
        step('minio_object', mode='get', bucket=bucket, key='m.txt', dest=str(dest), check=True, **conn),
        step('minio_object', mode='get', bucket=bucket, key='m.txt', dest=str(dest), **conn),
        step('minio_object', mode='get', bucket=bucket, key='m.txt', dest=str(dest), overwrite='always', **conn),
        step('minio_object', mode='delete', bucket=bucket, key='m.txt', check=True, diff=True, **conn),
        step('minio_object_info', bucket=bucket, key='m.txt', **conn),
        step('minio_object', mode='delete', bucket=bucket, key='m.txt', **conn),
        step('minio_object', mode='delete', bucket=bucket, key='m.txt', **conn),
    ], secret=creds['secret_key'])
    (check_new, info_absent, put_one, check_two, never, always, get_check, get1, get_always, del_check, info_still,
     delete, delete_again) = results
    one, two = hashlib.md5(b'one').hexdigest(), hashlib.md5(b'two').hexdigest()
    assert check_new['changed'] and check_new['diff'] == {'before': {}, 'after': {'md5': one, 'size': 3}}
    assert info_absent['exists'] is False
    assert put_one['changed']
    assert check_two['changed'] and check_two['diff']['before']['md5'] == one
    assert check_two['diff']['after']['md5'] == two
    assert not never['changed']
    assert always['changed'] and always['bytes_transferred'] == 3
    assert get_check['changed'] and get1['changed'] and get_always['changed']
    assert get_always['bytes_transferred'] == 3 and dest.read_text() == 'one'
    assert del_check['changed'] and del_check['diff']['before']['md5'] == one and info_still['exists']
    assert delete['changed'] and not delete_again['changed']
    assert 'Contents' not in s3_client.list_objects_v2(Bucket=bucket)


def test_bucket_present_absent(tmp_path, s3_server, s3_client):
    creds = s3_server.credentials
    conn = connection(creds)
    name = 'mt5crs-bucket-%s' % uuid.uuid4().hex[:8]
    results = run_steps(tmp_path, [
        step('minio_bucket', name=name, check=True, diff=True, **conn),
        step('minio_bucket', name=name + '-probe', check=True, **conn),
        step('minio_bucket', name=name, **conn),
        step('minio_bucket', name=name, **conn),
        step('minio_object', mode='put', bucket=name, key='a/b.txt', content='x', **conn),
        step('minio_bucket', name=name, state='absent', **conn),
        step('minio_bucket', name=name, state='absent', force=True, check=True, **conn),
        step('minio_bucket', name=name, state='absent', force=True, **conn),
        step('minio_bucket', name=name, state='absent', **conn),
    ], secret=creds['secret_key'])
    check, _probe, create, again, _put, refused, force_check, removed, gone = results
    assert check['changed'] and check['diff'] == {'before': {'exists': False}, 'after': {'exists': True}}
    assert create['changed'] and not again['changed']
    assert refused['failed'] and '1 objects' in refused['msg'] and 'force' in refused['msg']
    assert force_check['changed'] and force_check['objects_deleted'] == 1
    assert removed['changed'] and removed['objects_deleted'] == 1 and not gone['changed']
    names = [b['Name'] for b in s3_client.list_buckets()['Buckets']]
    assert name not in names and name + '-probe' not in names


def test_clear_errors(tmp_path, s3_server, bucket):
    from local_s3 import free_port
    creds = s3_server.credentials
    conn = connection(creds)
    src = tmp_path / 'f.txt'
    src.write_text('payload')
    wrong = dict(conn)
    wrong['secret_key'] = 'Wr0ng' + creds['secret_key'][5:]
    down = dict(conn)
    down.update(endpoint_url='http://127.0.0.1:%d' % free_port(), connect_timeout=1)
    dest = tmp_path / 'out.txt'
    dest.write_text('keep me')
    results = run_steps(tmp_path, [
        step('minio_object', mode='put', bucket=bucket, key='f.txt', src=str(tmp_path / 'missing.txt'), **conn),
        step('minio_object', mode='put', bucket=bucket, key='f.txt', src=str(src), **wrong),
        step('minio_object', mode='put', bucket=bucket, key='f.txt', src=str(src), **down),
        step('minio_object', mode='put', bucket=bucket + '-nope', key='f.txt', src=str(src), **conn),
        step('minio_object', mode='get', bucket=bucket, key='no/such.txt', dest=str(dest), **conn),
        step('minio_object', mode='put', bucket=bucket, key='/lead.txt', src=str(src), **conn),
        step('minio_object', mode='put', bucket=bucket, key='f.txt', src=str(src), **conn),
        step('minio_object', mode='get', bucket=bucket, key='f.txt', dest=str(tmp_path / 'nodir' / 'x'), **conn),
        step('minio_object', mode='get', bucket=bucket, key='f.txt', dest=str(dest), md5='0' * 32, **conn),
        step('minio_object', mode='get', bucket=bucket, key='f.txt', dest=str(dest), md5='xyz', **conn),
        step('minio_bucket', name=bucket, **wrong),
        step('minio_object_info', bucket=bucket, prefix='', **wrong),
    ], secret=wrong['secret_key'])
    (no_src, denied, unreachable, no_bucket, no_key, slash, ok, no_dir, mismatch, bad_md5, bucket_denied,
     info_denied) = results
    assert no_src['failed'] and 'missing.txt' in no_src['msg'] and 'src' in no_src['msg']
    assert denied['failed'] and 'access denied' in denied['msg'] and 'secret_key' in denied['msg']
    assert unreachable['failed'] and 'unreachable' in unreachable['msg'] and '127.0.0.1' in unreachable['msg']
    assert no_bucket['failed'] and bucket + '-nope' in no_bucket['msg'] and 'does not exist' in no_bucket['msg']
    assert no_key['failed'] and 'no/such.txt' in no_key['msg'] and 'does not exist' in no_key['msg']
    assert slash['failed'] and "'/lead.txt'" in slash['msg']
    assert ok['changed']
    assert no_dir['failed'] and 'nodir' in no_dir['msg'] and 'does not exist' in no_dir['msg']
    assert mismatch['failed'] and '0' * 32 in mismatch['msg'] and hashlib.md5(b'payload').hexdigest() in mismatch['msg']
    assert bad_md5['failed'] and "'xyz'" in bad_md5['msg']
    assert dest.read_text() == 'keep me' and temp_files(tmp_path) == []
    assert bucket_denied['failed'] and 'access denied' in bucket_denied['msg']
    assert info_denied['failed'] and 'access denied' in info_denied['msg']
    for result in results:
        assert creds['secret_key'] not in str(result)
        assert 'Traceback (most recent call last)' not in str(result)
