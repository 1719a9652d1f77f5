"""The TAP service's XML documents: golden files, schema validity, escaping, examples.

Each document is compared byte for byte with ``golden/NAME.xml`` (after a deliberate
change, regenerate with ``DATALAB_UPDATE_GOLDEN=1 ./scripts/test tests/xml``) and
validated against the official IVOA schemas kept in ``schemas/`` (see its README).
Validation runs offline: an lxml resolver maps every schema location to a local file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from datalab.adql import UDF_DESCRIPTIONS, TableCatalog, translate
from datalab.catalog.engine import Engine
from datalab.catalog.metadata import ColumnInfo, ForeignKey, SchemaInfo, TableInfo
from datalab.jobs.model import Job, JobError, JobResult, Phase
from datalab.web.tap_examples import EXAMPLES, TapExample, examples_document
from datalab.web.uws_xml import (
    job_document,
    job_list_document,
    parameters_document,
    phase_text,
    results_document,
)
from datalab.web.vo_xml import clean_text, iso_time
from datalab.web.vosi import (
    TapCapabilities,
    availability_document,
    capabilities_document,
    table_document,
    tables_document,
)

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
SCHEMAS = HERE / "schemas"

UWS = "http://www.ivoa.net/xml/UWS/v1.0"
VS = "http://www.ivoa.net/xml/VODataService/v1.1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XHTML = "http://www.w3.org/1999/xhtml"

# Every location the schemas (or our driver) name, mapped to the local copy.
SCHEMA_LOCATIONS = {
    "http://www.ivoa.net/xml/UWS/v1.0": "UWS-v1.1.xsd",
    "http://www.ivoa.net/xml/VOSICapabilities/v1.0": "VOSICapabilities-v1.0.xsd",
    "http://www.ivoa.net/xml/VOSIAvailability/v1.0": "VOSIAvailability-v1.0.xsd",
    "http://www.ivoa.net/xml/VOSITables/v1.0": "VOSITables-v1.1.xsd",
    "http://www.ivoa.net/xml/VODataService/v1.1": "VODataService-v1.2.xsd",
    "http://www.ivoa.net/xml/VOResource/v1.0": "VOResource-v1.2.xsd",
    "http://www.ivoa.net/xml/VOResource/VOResource-v1.0.xsd": "VOResource-v1.2.xsd",
    "http://www.ivoa.net/xml/TAPRegExt/v1.0": "TAPRegExt-v1.0.xsd",
    "http://www.ivoa.net/xml/STC/stc-v1.30.xsd": "stc-v1.30.xsd",
    "http://www.ivoa.net/xml/Xlink/xlink.xsd": "xlink.xsd",
    "http://vo.ari.uni-heidelberg.de/docs/schemata/xlink.xsd": "xlink.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
}


class _LocalSchemas(etree.Resolver):
    """Answers schema imports from ``schemas/``; anything unknown fails loudly."""

    def resolve(self, url, public_id, context):  # type: ignore[no-untyped-def]
        name = SCHEMA_LOCATIONS.get(url.replace("https://", "http://", 1))
        if name is None:
            if url.startswith(str(SCHEMAS)):  # a relative location, already local
                return None
            raise AssertionError(f"schema location {url} has no local copy")
        return self.resolve_filename(str(SCHEMAS / name), context)


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    """One schema covering every namespace our documents use."""
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{ns}"/>'
        for ns in (
            "http://www.ivoa.net/xml/UWS/v1.0",
            "http://www.ivoa.net/xml/VOSICapabilities/v1.0",
            "http://www.ivoa.net/xml/VOSIAvailability/v1.0",
            "http://www.ivoa.net/xml/VOSITables/v1.0",
            "http://www.ivoa.net/xml/VODataService/v1.1",
            "http://www.ivoa.net/xml/VOResource/v1.0",
            "http://www.ivoa.net/xml/TAPRegExt/v1.0",
        )
    )
    driver = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemas())
    tree = etree.fromstring(driver.encode(), parser, base_url=str(SCHEMAS / "driver.xsd"))
    return etree.XMLSchema(tree)


def valid(schema: etree.XMLSchema, document: bytes, root: str) -> etree._Element:
    """Parse ``document``, check its root element and validate it; return the root."""
    parsed = etree.fromstring(document, etree.XMLParser(no_network=True))
    assert parsed.tag == root
    if not schema.validate(parsed):
        pytest.fail("\n".join(str(e) for e in schema.error_log))
    return parsed


def golden(name: str, document: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("DATALAB_UPDATE_GOLDEN") == "1":
        path.write_bytes(document)
    assert path.exists(), f"no golden file {name}; set DATALAB_UPDATE_GOLDEN=1"
    assert document.decode() == path.read_text(encoding="utf-8")


# -- UWS -----------------------------------------------------------------------------

T0 = datetime(2025, 3, 14, 15, 9, 26, 535000, tzinfo=UTC)
JOB_URL = "http://127.0.0.1:8000/tap/async/k3j5x9"


def _job(phase: Phase, **changes: object) -> Job:
    job = Job(
        job_id="k3j5x9",
        kind="tap",
        owner=None,
        phase=phase,
        parameters={
            "lang": "ADQL",
            "query": "SELECT TOP 10 * FROM gaia_dr3.gaia_source WHERE phot_g_mean_mag < 5",
            "format": "votable",
        },
        creation_time=T0,
        destruction=T0 + timedelta(days=7),
        execution_duration=3600,
    )
    return replace(job, **changes)  # type: ignore[arg-type]


JOBS = {
    "job-pending": _job(Phase.PENDING),
    "job-completed": _job(
        Phase.COMPLETED,
        run_id="night-42",
        quote=T0 + timedelta(seconds=5),
        start_time=T0 + timedelta(seconds=1),
        end_time=T0 + timedelta(seconds=3, microseconds=250000),
        results=(
            JobResult("result", "result.xml", "application/x-votable+xml", size=52311, rows=10),
            JobResult("plan", "plan.txt", "text/plain"),
        ),
    ),
    "job-error": _job(
        Phase.ERROR,
        start_time=T0 + timedelta(seconds=1),
        end_time=T0 + timedelta(seconds=2),
        error=JobError("column 'gmag' not found in gaia_dr3.gaia_source; did you mean ...?"),
    ),
}


@pytest.mark.parametrize("name", sorted(JOBS))
def test_job_document(schema: etree.XMLSchema, name: str) -> None:
    document = job_document(JOBS[name], JOB_URL)
    golden(f"{name}.xml", document)
    root = valid(schema, document, f"{{{UWS}}}job")
    owner = root.find(f"{{{UWS}}}ownerId")
    assert owner is not None and owner.get(f"{{{XSI}}}nil") == "true"
    assert root.findtext(f"{{{UWS}}}phase") == phase_text(JOBS[name]) == JOBS[name].phase.value


def test_validation_catches_misordered_elements(schema: etree.XMLSchema) -> None:
    """The schema set really constrains our documents (guards against a no-op validator)."""
    root = etree.fromstring(job_document(JOBS["job-pending"], JOB_URL))
    phase = root.find(f"{{{UWS}}}phase")
    assert phase is not None
    root.remove(phase)
    root.insert(0, phase)
    assert not schema.validate(root)
    assert "phase" in str(schema.error_log.last_error)


def test_job_results_link_to_the_job() -> None:
    root = etree.fromstring(job_document(JOBS["job-completed"], JOB_URL + "/"))
    refs = root.findall(f"{{{UWS}}}results/{{{UWS}}}result")
    assert [r.get("{http://www.w3.org/1999/xlink}href") for r in refs] == [
        f"{JOB_URL}/results/result",
        f"{JOB_URL}/results/plan",
    ]
    assert refs[0].get("size") == "52311" and refs[1].get("size") is None


def test_parameters_and_results_documents(schema: etree.XMLSchema) -> None:
    job = JOBS["job-completed"]
    params = valid(schema, parameters_document(job), f"{{{UWS}}}parameters")
    assert {p.get("id"): p.text for p in params} == job.parameters
    document = results_document(job, JOB_URL)
    golden("job-results.xml", document)
    results = valid(schema, document, f"{{{UWS}}}results")
    assert [r.get("id") for r in results] == ["result", "plan"]
    assert results[0].get("{http://www.w3.org/1999/xlink}href") == f"{JOB_URL}/results/result"
    empty = valid(schema, results_document(JOBS["job-pending"], JOB_URL), f"{{{UWS}}}results")
    assert len(empty) == 0


def test_job_list(schema: etree.XMLSchema) -> None:
    jobs = [
        JOBS["job-pending"],
        replace(JOBS["job-completed"], job_id="a1", owner="alice"),
        replace(JOBS["job-error"], job_id="b2", creation_time=T0 + timedelta(hours=1)),
    ]
    document = job_list_document(jobs, "http://127.0.0.1:8000/tap/async")
    golden("job-list.xml", document)
    root = valid(schema, document, f"{{{UWS}}}jobs")
    assert [ref.get("id") for ref in root] == ["k3j5x9", "a1", "b2"]
    assert root[1].findtext(f"{{{UWS}}}ownerId") == "alice"


def test_job_owner_and_times_are_written_when_known(schema: etree.XMLSchema) -> None:
    moscow = timezone(timedelta(hours=3))
    job = replace(JOBS["job-pending"], owner="bob", creation_time=T0.astimezone(moscow))
    root = valid(schema, job_document(job, JOB_URL), f"{{{UWS}}}job")
    assert root.findtext(f"{{{UWS}}}ownerId") == "bob"
    assert root.findtext(f"{{{UWS}}}creationTime") == "2025-03-14T15:09:26.535Z"


def test_iso_time_is_utc() -> None:
    assert iso_time(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000Z"
    assert (
        iso_time(datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=timezone(timedelta(hours=-5))))
        == "2024-01-02T08:04:05.999Z"
    )


# -- escaping ------------------------------------------------------------------------

NASTY = [
    "a < b && c > 'd' \"e\"",
    "]]> <![CDATA[ x ]]>",
    "tabs\tand\nnew\r\nlines\rhere",
    "bell\x07 nul\x00 esc\x1b vt\x0b ff\x0c del\x7f",
    "Ångström, Dec −30°, Δα ≥ 1″, 東京, 𝛼 emoji 🔭",
    "surrogate \udc80 and \ufffe\uffff non-characters",
    "&amp; is not an entity here; neither is &#65;",
]


def test_parameters_and_messages_survive(schema: etree.XMLSchema) -> None:
    params = {f"p{i}": value for i, value in enumerate(NASTY)}
    job = replace(
        JOBS["job-error"],
        parameters=params,
        run_id=NASTY[0],
        owner=NASTY[4],
        error=JobError(" | ".join(NASTY), fatal=False),
    )
    root = valid(schema, job_document(job, JOB_URL), f"{{{UWS}}}job")
    got = {p.get("id"): p.text or "" for p in root.iter(f"{{{UWS}}}parameter")}
    assert got == {name: clean_text(value) for name, value in params.items()}
    assert root.findtext(f"{{{UWS}}}runId") == NASTY[0]
    assert root.findtext(f"{{{UWS}}}ownerId") == NASTY[4]
    summary = root.find(f"{{{UWS}}}errorSummary")
    assert summary is not None and summary.get("type") == "transient"
    assert summary.findtext(f"{{{UWS}}}message") == clean_text(" | ".join(NASTY))
    listing = etree.fromstring(job_list_document([job], "http://h/async"))
    assert listing[0].findtext(f"{{{UWS}}}runId") == NASTY[0]


def test_attribute_values_survive() -> None:
    odd_id = "id with \"quotes\" & <angles>\tand\nbreaks"
    job = replace(JOBS["job-pending"], parameters={odd_id: "x"})
    root = etree.fromstring(job_document(job, JOB_URL))
    assert [p.get("id") for p in root.iter(f"{{{UWS}}}parameter")] == [odd_id]


def test_descriptions_survive(schema: etree.XMLSchema) -> None:
    table = replace(
        SMALL_TABLES[0],
        description=NASTY[0] + NASTY[3],
        columns=tuple(replace(c, description=NASTY[4], unit="mas/yr") for c in SMALL_COLUMNS),
    )
    root = valid(schema, table_document(table), "{http://www.ivoa.net/xml/VOSITables/v1.0}table")
    assert root.findtext("description") == clean_text(NASTY[0] + NASTY[3])
    assert {c.findtext("description") for c in root.iter("column")} == {NASTY[4]}
    caps = replace(CAPS, udfs={"ivo_odd": ("ivo_odd(x DOUBLE) -> DOUBLE", NASTY[2] + NASTY[5])})
    caps_root = etree.fromstring(capabilities_document(caps))
    assert caps_root.findtext(".//feature/description") == clean_text(NASTY[2] + NASTY[5])


# -- VOSI tables ---------------------------------------------------------------------

SMALL_COLUMNS = (
    ColumnInfo(
        "star_id", "long", description="Star identifier", ucd="meta.id;meta.main", indexed=True
    ),
    ColumnInfo("ra", "double", description="Right ascension (ICRS)", unit="deg", ucd="pos.eq.ra"),
    ColumnInfo("pos", "double", arraysize="2", xtype="point", unit="deg", principal=False),
    ColumnInfo("survey", "char", arraysize="*", utype="obscore:obs_collection", std=True),
)
SMALL_TABLES = (
    TableInfo(
        "demo",
        "stars",
        "A handful of stars",
        SMALL_COLUMNS,
        ra_column="ra",
        nrows=1234,
        foreign_keys=(
            ForeignKey(
                "demo.stars", "demo.surveys", (("survey", "name"),), "Where each star was seen"
            ),
        ),
    ),
    TableInfo(
        "demo",
        "surveys",
        None,
        (ColumnInfo("name", "char", arraysize="16*", indexed=True),),
        table_type="view",
    ),
    TableInfo("extra", "lonely", "A table whose schema has no TAP_SCHEMA row", ()),
)
SMALL_SCHEMAS = (SchemaInfo("demo", "Demonstration tables"), SchemaInfo("empty"))


@pytest.mark.parametrize("detail", ["max", "min"])
def test_tables_document(schema: etree.XMLSchema, detail: str) -> None:
    document = tables_document(SMALL_SCHEMAS, SMALL_TABLES, detail=detail)
    golden(f"tables-{detail}.xml", document)
    root = valid(schema, document, "{http://www.ivoa.net/xml/VOSITables/v1.0}tableset")
    assert [s.findtext("name") for s in root.findall("schema")] == ["demo", "empty", "extra"]
    names = [t.findtext("name") for t in root.iter("table")]
    assert names == ["demo.stars", "demo.surveys", "extra.lonely"]
    assert (root.find(".//column") is None) == (detail == "min")
    assert (root.find(".//foreignKey") is None) == (detail == "min")


def test_table_document(schema: etree.XMLSchema) -> None:
    document = table_document(SMALL_TABLES[0])
    golden("table.xml", document)
    root = valid(schema, document, "{http://www.ivoa.net/xml/VOSITables/v1.0}table")
    pos = root.find("column[name='pos']/dataType")
    assert pos is not None
    assert (pos.text, pos.get("arraysize"), pos.get("extendedType")) == ("double", "2", "point")
    assert pos.get(f"{{{XSI}}}type") == "vs:VOTableType"
    flags = {c.findtext("name"): [f.text for f in c.findall("flag")] for c in root.iter("column")}
    assert flags == {
        "star_id": ["indexed", "principal"],
        "ra": ["principal"],
        "pos": [],
        "survey": ["principal"],
    }
    key = root.find("foreignKey")
    assert key is not None and key.findtext("targetTable") == "demo.surveys"
    assert key.findtext("fkColumn/fromColumn") == "survey"


def test_tables_document_refuses_unknown_detail() -> None:
    with pytest.raises(ValueError, match="detail"):
        tables_document(SMALL_SCHEMAS, SMALL_TABLES, detail="some")


# -- capabilities and availability ---------------------------------------------------

CAPS = TapCapabilities(
    base_url="http://127.0.0.1:8000",
    output_formats=(
        ("application/x-votable+xml", ("votable",)),
        ("application/x-votable+xml;serialization=TABLEDATA", ("votable/td",)),
        ("application/x-votable+xml;serialization=BINARY2", ("votable/b2",)),
        ("text/csv;header=present", ("csv",)),
        ("application/fits", ("fits",)),
    ),
    udfs=UDF_DESCRIPTIONS,
    default_maxrec=100_000,
    hard_maxrec=10_000_000,
    default_execution_duration=3600,
    hard_execution_duration=86_400,
    sync_execution_duration=600,
    default_retention=604_800,
    hard_retention=2_592_000,
    upload_limit_bytes=100_000_000,
)
TR = "ivo://ivoa.net/std/TAPRegExt"


def test_capabilities_document(schema: etree.XMLSchema) -> None:
    document = capabilities_document(CAPS)
    golden("capabilities.xml", document)
    root = valid(schema, document, "{http://www.ivoa.net/xml/VOSICapabilities/v1.0}capabilities")
    standards = {c.get("standardID"): c for c in root.findall("capability")}
    assert set(standards) == {
        "ivo://ivoa.net/std/TAP",
        "ivo://ivoa.net/std/VOSI#capabilities",
        "ivo://ivoa.net/std/VOSI#availability",
        "ivo://ivoa.net/std/VOSI#tables-1.1",
        "ivo://ivoa.net/std/DALI#examples",
    }
    urls = {sid: c.findtext("interface/accessURL") for sid, c in standards.items()}
    assert urls["ivo://ivoa.net/std/TAP"] == "http://127.0.0.1:8000/tap"
    assert urls["ivo://ivoa.net/std/DALI#examples"] == "http://127.0.0.1:8000/tap/examples"
    tap = standards["ivo://ivoa.net/std/TAP"]
    features = {
        f.get("type"): [form.text for form in f.iter("form")]
        for f in tap.iter("languageFeatures")
    }
    assert features[f"{TR}#features-adqlgeo"] == (
        "POINT CIRCLE BOX POLYGON CENTROID CONTAINS INTERSECTS DISTANCE AREA COORD1 COORD2"
        " COORDSYS"
    ).split()
    udfs = [UDF_DESCRIPTIONS[name][0] for name in sorted(UDF_DESCRIPTIONS)]
    assert features[f"{TR}#features-udf"] == udfs
    assert features[f"{TR}#features-adql-sets"] == ["UNION", "EXCEPT", "INTERSECT"]
    assert [v.get("ivo-id") for v in tap.iter("version")] == [
        "ivo://ivoa.net/std/ADQL#v2.0",
        "ivo://ivoa.net/std/ADQL#v2.1",
    ]
    assert [m.get("ivo-id") for m in tap.iter("uploadMethod")] == [f"{TR}#upload-inline"]
    formats = {f.findtext("mime"): f.get("ivo-id") for f in tap.iter("outputFormat")}
    assert formats["application/x-votable+xml;serialization=TABLEDATA"] == f"{TR}#output-votable-td"
    assert formats["application/x-votable+xml"] is None
    assert tap.findtext("outputLimit/hard") == "10000000"
    assert "600 seconds" in (tap.findtext("description") or "")


def test_url_uploads_are_announced_when_enabled(schema: etree.XMLSchema) -> None:
    document = capabilities_document(replace(CAPS, url_uploads=True, udfs={}))
    root = valid(schema, document, "{http://www.ivoa.net/xml/VOSICapabilities/v1.0}capabilities")
    assert [m.get("ivo-id") for m in root.iter("uploadMethod")] == [
        f"{TR}#upload-inline",
        f"{TR}#upload-http",
        f"{TR}#upload-https",
    ]


def test_availability_document(schema: etree.XMLSchema) -> None:
    document = availability_document(True, up_since=T0, note="Accepting queries")
    golden("availability.xml", document)
    root_tag = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}availability"
    valid(schema, document, root_tag)
    down = valid(schema, availability_document(False), root_tag)
    assert [child.text for child in down] == ["false"]


# -- examples ------------------------------------------------------------------------


def test_examples_document() -> None:
    document = examples_document(EXAMPLES, "http://127.0.0.1:8000/")
    golden("examples.xhtml", document)
    root = etree.fromstring(document, etree.XMLParser(no_network=True))
    assert root.tag == f"{{{XHTML}}}html"
    assert len(root.xpath("//*[@vocab]")) == 1
    assert root.xpath("//*[@vocab]/@vocab") == ["http://www.ivoa.net/rdf/examples#"]
    blocks = root.xpath("//*[@typeof='example']")
    assert len(blocks) == len(EXAMPLES)
    for block, example in zip(blocks, EXAMPLES, strict=True):
        assert block.get("id") == example.anchor
        assert block.get("resource") == f"#{example.anchor}"
        assert block.xpath("ancestor::*[@vocab]")
        (name,) = block.xpath(".//*[@property='name']")
        assert name.text == example.name and len(name) == 0
        (query,) = block.xpath(".//*[@property='query']")
        assert query.tag == f"{{{XHTML}}}pre" and query.text == example.query
        assert block.xpath(".//*[@property='table']/text()") == list(example.tables)
        (param,) = block.xpath(".//*[@property='generic-parameter']")
        assert param.get("typeof") == "keyval"
        assert param.xpath("*[@property='key']/text()") == ["LANG"]
        assert param.xpath("*[@property='value']/text()") == ["ADQL"]


def test_examples_are_well_formed() -> None:
    assert 8 <= len(EXAMPLES) <= 12
    anchors = [e.anchor for e in EXAMPLES]
    assert len(set(anchors)) == len(anchors) and all(anchors)
    odd = TapExample("Q & A: <odd> \"one\"", "SELECT 1 WHERE a < b & c", "x\x01y")
    root = etree.fromstring(examples_document([odd], "http://h"))
    (query,) = root.xpath("//*[@property='query']")
    assert query.text == odd.query
    assert root.xpath("//*[@typeof='example']/@id") == ["q-a-odd-one"]


@pytest.fixture(scope="module")
def engine(demo_home: Path) -> Iterator[Engine]:
    engine = Engine(demo_home / "catalog.duckdb", threads=1)
    yield engine
    engine.close()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.anchor for e in EXAMPLES])
def test_example_runs_on_demo_data(engine: Engine, example: TapExample) -> None:
    translation = translate(example.query, TableCatalog(engine.tables()))
    assert set(translation.tables) == set(example.tables)
    with engine.cursor() as cur:
        rows = cur.sql(translation.sql).fetchall()
    assert rows, f"{example.name} returned no rows"


def test_demo_catalog_tables_validate(schema: etree.XMLSchema, engine: Engine) -> None:
    """The real catalog metadata (units, UCDs, long descriptions) makes valid documents."""
    tables = engine.tables()
    for detail in ("max", "min"):
        valid(
            schema,
            tables_document(engine.schemas(), tables, detail=detail),
            "{http://www.ivoa.net/xml/VOSITables/v1.0}tableset",
        )
    for table in tables:
        valid(schema, table_document(table), "{http://www.ivoa.net/xml/VOSITables/v1.0}table")


def test_examples_page_has_no_self_closing_tags() -> None:
    """Served as text/html, ``<p/>`` would open a paragraph that never closes."""
    empty = TapExample("Empty", "SELECT 1", "")
    text = examples_document([empty], "http://h").decode()
    assert "/>" not in text and "<p></p>" in text
