"""Verifying the audit chain and every row it vouches for (DESIGN §3, §6).

- :mod:`~rules.audit.verify.walk`: :func:`verify`, the walk of the chain's links and head;
- :mod:`~rules.audit.verify.rows`: what each kind of event vouches for (versions, activations,
  resolutions), and the dispatch to the verifiers below;
- :mod:`~rules.audit.verify.imports`: the digest a ``history.imported`` event records of the
  rows one import wrote (written by the importer, recomputed here);
- :mod:`~rules.audit.verify.proposals`: the state a ``proposal.*`` event records (written by
  the proposer, compared here), and ``llm.run`` events.

The writers of those rows import the definitions here (``proposal_state``, ``digest_of``), so
both sides compare one definition and ``rules`` never imports the proposer.
"""

from __future__ import annotations

from rules.audit.verify.walk import Verification, verify

__all__ = ["Verification", "verify"]
