"""UWS 1.1 documents for a job and a job list (IVOA UWS 1.1 §2.2, schema UWS-v1.1).

The element order follows the schema's ``JobSummary`` and ``ShortJobDescription``
sequences exactly: clients such as pyvo and TOPCAT read these documents with
validating or order-sensitive parsers. Elements the schema requires but whose value
is unknown (an anonymous owner, a job not yet started) are written as ``xsi:nil``
rather than left out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from datalab.jobs.model import Job
from datalab.web.vo_xml import UWS, XLINK, XSI, element, iso_time, nil, qname, serialize

__all__ = [
    "job_document",
    "job_list_document",
    "parameters_document",
    "phase_text",
    "results_document",
]

UWS_VERSION = "1.1"
_PREFIXES = {"uws": UWS, "xlink": XLINK, "xsi": XSI}


def _u(local: str) -> str:
    return qname(UWS, local)


def _href(url: str) -> dict[str, str | None]:
    return {qname(XLINK, "type"): "simple", qname(XLINK, "href"): url}


def phase_text(job: Job) -> str:
    """The body of ``GET {job}/phase``: the bare phase name (UWS 1.1 §2.1.3, §2.2.1)."""
    return job.phase.value


def job_document(job: Job, job_url: str) -> bytes:
    """The ``<uws:job>`` document served at ``job_url`` (UWS 1.1 §2.2.2.2).

    Result links are absolute, ``{job_url}/results/{id}``, so a client can follow them
    without knowing how the service lays out its URLs.
    """
    base = job_url.rstrip("/")
    root = element(None, _u("job"), attrib={"version": UWS_VERSION})
    element(root, _u("jobId"), job.job_id)
    if job.run_id is not None:
        element(root, _u("runId"), job.run_id)
    _owner(root, job.owner)
    element(root, _u("phase"), job.phase.value)
    _moment(root, "quote", job.quote)
    element(root, _u("creationTime"), iso_time(job.creation_time))
    _moment(root, "startTime", job.start_time)
    _moment(root, "endTime", job.end_time)
    element(root, _u("executionDuration"), job.execution_duration)
    element(root, _u("destruction"), iso_time(job.destruction))
    _parameters(root, job)
    _results(root, job, base)
    if job.error is not None:
        summary = element(
            root,
            _u("errorSummary"),
            attrib={"type": "fatal" if job.error.fatal else "transient", "hasDetail": "false"},
        )
        element(summary, _u("message"), job.error.message)
    return serialize(root, _PREFIXES)


def parameters_document(job: Job) -> bytes:
    """The ``<uws:parameters>`` document served at ``{job}/parameters`` (UWS 1.1 §2.2.2.4)."""
    return serialize(_parameters(None, job), _PREFIXES)


def results_document(job: Job, job_url: str) -> bytes:
    """The ``<uws:results>`` document served at ``{job}/results`` (UWS 1.1 §2.2.2.3)."""
    return serialize(_results(None, job, job_url.rstrip("/")), _PREFIXES)


def job_list_document(jobs: Sequence[Job], list_url: str) -> bytes:
    """The ``<uws:jobs>`` list served at ``list_url`` (UWS 1.1 §2.2.2.1).

    Each reference carries phase, runId, ownerId and creationTime, as UWS 1.1 added
    them (appendix A.3) so that clients can filter a list without fetching every job.
    """
    base = list_url.rstrip("/")
    root = element(None, _u("jobs"), attrib={"version": UWS_VERSION})
    for job in jobs:
        ref = element(
            root,
            _u("jobref"),
            attrib={"id": job.job_id, **_href(f"{base}/{quote(job.job_id, safe='')}")},
        )
        element(ref, _u("phase"), job.phase.value)
        if job.run_id is not None:
            element(ref, _u("runId"), job.run_id)
        _owner(ref, job.owner)
        element(ref, _u("creationTime"), iso_time(job.creation_time))
    return serialize(root, _PREFIXES)


def _parameters(parent: ET.Element | None, job: Job) -> ET.Element:
    node = element(parent, _u("parameters"))
    for name, value in job.parameters.items():
        if name.startswith("_"):
            continue  # reserved for the server (the job's base URL), not the client's
        element(node, _u("parameter"), value, {"id": name})
    return node


def _results(parent: ET.Element | None, job: Job, base: str) -> ET.Element:
    node = element(parent, _u("results"))
    for result in job.results:
        attrib = {
            "id": result.result_id,
            **_href(f"{base}/results/{quote(result.result_id, safe='')}"),
            "mime-type": result.mime_type,
            "size": None if result.size is None else str(result.size),
        }
        element(node, _u("result"), attrib=attrib)
    return node


def _owner(parent: ET.Element, owner: str | None) -> None:
    if owner is None:
        nil(parent, _u("ownerId"))
    else:
        element(parent, _u("ownerId"), owner)


def _moment(parent: ET.Element, name: str, moment: datetime | None) -> None:
    """A nillable time element: the instant, or ``xsi:nil`` when there is none yet."""
    if moment is None:
        nil(parent, _u(name))
    else:
        element(parent, _u(name), iso_time(moment))
