# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The HTTPS settings of the check modules (argument spec: module_utils/httpclient.py TLS_OPTIONS). Requests
    # go through ansible.module_utils.urls, so proxies come from the usual environment variables. Named tls:
    # a fragment named http shadowed the standard library's http for ansible-test's pylint.
    DOCUMENTATION = r"""
options:
  validate_certs:
    description: Check the server's certificate on HTTPS URLs.
    type: bool
    default: true
  ca_path:
    description: A PEM file of the CA certificates to trust instead of the system's.
    type: path
  client_cert:
    description: A PEM file of the client certificate to present (with its key, or with O(client_key)).
    type: path
  client_key:
    description: A PEM file of the client certificate's private key.
    type: path
"""
