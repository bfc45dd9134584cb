"""Keeps message payloads out of logs. The relay forwards sealed "hs"/"ct" fields it must never
record: botocore's and urllib3's debug logs print request bodies (every post to a connection),
and `websockets`' print frames, so those loggers never go below INFO, whatever the verbosity."""

from __future__ import annotations

import logging

PAYLOAD_LOGGERS = ("botocore", "boto3", "urllib3", "websockets", "s3transfer")


def quiet_payload_loggers() -> None:
    for name in PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
