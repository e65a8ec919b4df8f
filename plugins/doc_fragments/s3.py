# -*- coding: utf-8 -*-
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Connection options shared by minio_object, minio_object_info and minio_bucket.
    # Keep in step with connection_argument_spec() in plugins/module_utils/_s3.py.
    DOCUMENTATION = r'''
options:
  endpoint_url:
    description:
      - URL of the S3-compatible server, for example C(https://minio.example.org:9000).
      - When not given, the environment variables E(MT5CRS_S3_ENDPOINT_URL), E(AWS_ENDPOINT_URL_S3) and
        E(AWS_ENDPOINT_URL) are tried in that order; without any of them boto3 talks to AWS S3.
    type: str
    aliases: [s3_url]
  access_key:
    description:
      - Access key ID.
      - When not given, E(MT5CRS_S3_ACCESS_KEY) and then E(AWS_ACCESS_KEY_ID) are used; after that boto3's own
        credential chain (shared credentials file, instance profile) applies.
    type: str
    aliases: [aws_access_key]
  secret_key:
    description:
      - Secret access key. It is never logged, returned or put in an error message.
      - When not given, E(MT5CRS_S3_SECRET_KEY) and then E(AWS_SECRET_ACCESS_KEY) are used.
    type: str
    aliases: [aws_secret_key]
  session_token:
    description:
      - Session token for temporary credentials.
      - When not given, E(MT5CRS_S3_SESSION_TOKEN) and then E(AWS_SESSION_TOKEN) are used.
    type: str
  region:
    description:
      - Region name used to sign requests. MinIO accepts C(us-east-1) unless configured otherwise.
      - When not given, E(MT5CRS_S3_REGION), E(AWS_REGION) and E(AWS_DEFAULT_REGION) are tried, then C(us-east-1).
    type: str
  validate_certs:
    description:
      - Whether to verify the server's TLS certificate. Set to V(false) only for a throw-away test server.
    type: bool
    default: true
  ca_bundle:
    description:
      - Path of a PEM bundle of CA certificates used to verify the server, for a MinIO with a private CA.
      - When not given, E(MT5CRS_S3_CA_BUNDLE) and then E(AWS_CA_BUNDLE) are used.
      - Ignored when O(validate_certs=false).
    type: path
  addressing_style:
    description:
      - How the bucket name goes into the request URL.
      - V(path) puts it into the path (C(https://host/bucket/key)) and needs no wildcard DNS, which suits MinIO.
      - V(virtual) puts it into the host name; V(auto) lets botocore choose.
    type: str
    default: path
    choices: [path, virtual, auto]
  connect_timeout:
    description:
      - Seconds to wait for a TCP connection to the endpoint.
    type: float
    default: 10.0
  read_timeout:
    description:
      - Seconds to wait for data on an open connection before the request counts as failed (and is retried).
    type: float
    default: 60.0
  max_attempts:
    description:
      - Total attempts per request, the first included, in botocore's C(standard) retry mode.
      - Connection errors, resets, HTTP 5xx and throttling answers such as C(SlowDown) are retried with
        exponential backoff and jitter; other errors fail at once. V(1) turns retries off.
    type: int
    default: 4
  request_checksum_calculation:
    description:
      - botocore's flexible-checksum setting for requests.
      - V(when_required) sends the newer C(x-amz-checksum-*) headers only where an operation demands one. It
        works with S3-compatible servers that predate those checksums. Integrity of uploaded bytes is still
        proven, by Content-MD5 on every upload request and by comparing the stored MD5 and ETag afterwards.
      - V(when_supported) adds a CRC32 checksum to every upload as well (aws-chunked encoding), which older
        MinIO releases and some other servers reject.
    type: str
    default: when_required
    choices: [when_required, when_supported]
  response_checksum_validation:
    description:
      - botocore's flexible-checksum setting for responses.
      - V(when_required) validates a response checksum only where the operation asks for one; downloads are
        verified by this collection's own MD5 comparison in any case.
      - V(when_supported) validates any checksum the server returns.
    type: str
    default: when_required
    choices: [when_required, when_supported]
requirements:
  - python >= 3.9
  - boto3 >= 1.34 and botocore >= 1.34 (s3transfer comes with boto3)
notes:
  - The modules run on the target host, so boto3 must be importable by the interpreter Ansible uses there; for GPU
    hosts that is the project venv, selected with C(ansible_python_interpreter).
  - Credentials passed as options travel in the module arguments (never on a command line); environment variables
    are read on the target host.
'''

    # Options of the modules that move object bytes.
    TRANSFER = r'''
options:
  multipart_threshold_mib:
    description:
      - Objects of at least this many MiB are uploaded in parts, and downloads of at least this size use parallel
        ranged requests.
      - Part sizes below 5 MiB are raised to 5 MiB by s3transfer, as S3 requires.
    type: int
    default: 8
  multipart_chunksize_mib:
    description:
      - Size of each part in MiB for multipart uploads and ranged downloads.
      - s3transfer doubles it as often as needed to stay under 10,000 parts. The part size used is stored with the
        object, so a later run can recompute the multipart ETag.
    type: int
    default: 8
  max_concurrency:
    description:
      - Number of parallel requests s3transfer may run for one object.
    type: int
    default: 10
'''
