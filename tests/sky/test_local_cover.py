"""small_circle_ranges: never misses a point, stays tight, and the facts it rests on.

The cover's guarantee rests on three facts about HEALPix cells, each checked here
against cdshealpix's geometry (independently of astropy-healpix, which the cover
calls): the neighbour function lists every cell sharing a vertex; the block built
from a cell's (x, y) holds all neighbours of its inner cells; and no point of a
cell lies farther from its centre than the per-depth reach.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from cdshealpix.nested import healpix_to_lonlat, vertices
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from datalab.errors import UsageError
from datalab.sky import (
    N_INDICES,
    SMALL_CIRCLE_MAX_RADIUS,
    Circle,
    angular_distance,
    healpix_index,
    local_cover,
    ranges_contain,
    small_circle_ranges,
)
from tests.sky.support import (
    SKY_SETTINGS,
    assert_covers,
    assert_valid_ranges,
    seeds,
    unit_xyz,
)

# Latitude of the base-cell corners where only three cells meet (z = 2/3).
CORNER_DEC = math.degrees(math.asin(2.0 / 3.0))  # 41.8103149 degrees
# Nominal size of an order-29 cell, in degrees.
CELL_29 = math.degrees(math.sqrt(4.0 * math.pi / N_INDICES))

# Centres that stress the cover: poles, base-cell corners (three cells meet at
# dec +-41.81 on RA multiples of 90; RA 45 + 90k are base-cell centres), the
# four-cell corners on the equator, and RA 0/360.
SPECIAL_CENTRES = [
    (0.0, 90.0), (123.0, 90.0), (0.0, -90.0), (271.0, -90.0),
    *[(ra, dec) for ra in range(0, 360, 45) for dec in (CORNER_DEC, -CORNER_DEC)],
    *[(ra, 0.0) for ra in (45.0, 135.0, 225.0, 315.0)],
    (0.0, 12.3), (360.0, -45.6), (359.9999999, 60.0), (1e-9, -10.0), (-1e-9, 0.0),
]  # fmt: skip

uniform_centres = st.tuples(
    st.floats(0.0, 360.0), st.floats(-1.0, 1.0).map(lambda z: math.degrees(math.asin(z)))
)
centres = st.one_of(st.sampled_from(SPECIAL_CENTRES), uniform_centres)
radii = st.one_of(
    st.sampled_from([0.0, 1e-6, 1 / 3600, 1 / 60, 0.1, 0.5, SMALL_CIRCLE_MAX_RADIUS]),
    st.floats(math.log10(1e-6), math.log10(SMALL_CIRCLE_MAX_RADIUS)).map(lambda x: 10.0**x),
)


def offset_points(
    ra: float, dec: float, distance: np.ndarray, angle: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(ra, dec) in degrees of points at ``distance`` degrees from (ra, dec), towards ``angle``.

    Computed with unit vectors and read back with atan2, so they stay exact next to
    the poles and for the tiniest distances (astropy's offsets go through asin and
    acos, which lose half the digits there).
    """
    lon, lat = math.radians(ra), math.radians(dec)
    sin_lon, cos_lon, sin_lat, cos_lat = math.sin(lon), math.cos(lon), math.sin(lat), math.cos(lat)
    centre = np.array([cos_lat * cos_lon, cos_lat * sin_lon, sin_lat])
    east = np.array([-sin_lon, cos_lon, 0.0])
    north = np.array([-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat])
    d = np.radians(distance)[:, None]
    heading = np.cos(angle)[:, None] * east + np.sin(angle)[:, None] * north
    x, y, z = (np.cos(d) * centre + np.sin(d) * heading).T
    return np.degrees(np.arctan2(y, x)) % 360.0, np.degrees(np.arctan2(z, np.hypot(x, y)))


def circle_points(circle: Circle, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The centre, points uniform in the circle, and points on and just inside its edge."""
    half = math.radians(circle.radius) / 2.0
    uniform = np.degrees(2.0 * np.arcsin(math.sin(half) * np.sqrt(rng.random(n))))
    scale = rng.choice([1.0, 1.0 - 1e-12, 1.0 - 1e-9, 1.0 - 1e-6, 0.999], n)
    distance = np.concatenate([uniform, circle.radius * scale])
    ra, dec = offset_points(circle.ra, circle.dec, distance, rng.uniform(0, 2 * np.pi, 2 * n))
    return np.append(ra, circle.ra), np.append(dec, circle.dec)


def cap_cells(radius: float) -> float:
    """Area of a cap of ``radius`` degrees, in order-29 cells."""
    return math.sin(math.radians(min(radius, 180.0)) / 2.0) ** 2 * N_INDICES


def loosest_cover(radius: float) -> float:
    """Most order-29 cells a cover of a circle of ``radius`` degrees may hold.

    A kept cell's centre lies within radius + margin + R of the circle's centre and
    the cell within R of its centre, where R (the per-depth reach) is at most 1.06
    cell sizes (test_cell_reach_is_a_small_multiple_of_the_cell_size), and cells
    are at most one radius across, or order-29 cells for the tiniest circles. The
    disjoint, equal-area cells fit in a cap of radius r + 2.12 max(r, cell): at most
    (3.12)**2, about 10 times the circle's area.
    """
    return cap_cells(radius + 1e-8 + 2 * 1.06 * max(radius, CELL_29))


def assert_good_cover(circle: Circle, n: int, rng: np.random.Generator) -> np.ndarray:
    ranges = small_circle_ranges(circle)
    assert ranges is not None
    assert_valid_ranges(ranges)
    assert assert_covers(circle, ranges, *circle_points(circle, n, rng)) > 0
    assert (ranges[:, 1] - ranges[:, 0]).sum() <= loosest_cover(circle.radius)
    return ranges


@settings(SKY_SETTINGS, max_examples=200)
@given(centres, radii, seeds)
def test_covers_every_point(centre: tuple[float, float], radius: float, seed: int) -> None:
    assert_good_cover(Circle(*centre, radius), 400, np.random.default_rng(seed))


@pytest.mark.parametrize("centre", SPECIAL_CENTRES)
@pytest.mark.parametrize("radius", [0.0, 1e-6, 3e-5, 1 / 3600, 1 / 60, 0.1, 0.5, 1.0])
def test_special_centres(centre: tuple[float, float], radius: float) -> None:
    assert_good_cover(Circle(*centre, radius), 1000, np.random.default_rng(7))


def test_many_random_circles() -> None:
    rng = np.random.default_rng(2024)
    for _ in range(300):
        radius = 10.0 ** rng.uniform(-6.0, 0.0)
        centre = rng.uniform(0.0, 360.0), math.degrees(math.asin(rng.uniform(-1.0, 1.0)))
        assert_good_cover(Circle(*centre, radius), 100, rng)


@pytest.mark.parametrize("ra", [0.0, 90.0, 180.0, 270.0])
@pytest.mark.parametrize("dec", [CORNER_DEC, -CORNER_DEC])
@pytest.mark.parametrize("radius", [1e-6, 1 / 3600, 0.1, 1.0])
def test_cones_where_three_base_cells_meet(ra: float, dec: float, radius: float) -> None:
    """At these corners the centre's cell has 7 neighbours, not 8; nothing is lost."""
    circle = Circle(ra, dec, radius)
    depth = local_cover._depth(radius)
    nside = np.intc(1 << depth)
    cell = healpix_index(ra, dec, order=depth).reshape(1)
    with np.errstate(invalid="ignore"):
        neighbours = np.concatenate(local_cover._neighbours(cell, nside))
    assert (neighbours == -1).sum() == 1
    # Points near the corner fall in all three base cells.
    ra_pts, dec_pts = circle_points(circle, 3000, np.random.default_rng(3))
    assert len(np.unique(healpix_index(ra_pts, dec_pts, order=0))) == 3
    assert_good_cover(circle, 3000, np.random.default_rng(4))


def test_cone_that_cdshealpix_misses_shrunk() -> None:
    """The spot of cdshealpix's cone_search miss (see test_cover), at small radii.

    Circles whose edge passes exactly through the centre of the cell cdshealpix
    left out, and circles around both that centre and the original cone's.
    """
    missed_cell = np.array([157695], dtype=np.uint64)  # depth 7
    lon, lat = healpix_to_lonlat(missed_cell, 7)
    spot = SkyCoord(lon[0], lat[0])
    cone = SkyCoord(124.82 * u.deg, -20.601 * u.deg)
    rng = np.random.default_rng(5)
    for radius in (1e-6, 1 / 3600, 1 / 60, 0.1, 0.5, 1.0):
        # Centred ``radius`` (or a hair less) away from the spot, towards the cone's centre.
        for offset in (radius, radius * (1 - 1e-9)):
            centre = spot.directional_offset_by(spot.position_angle(cone), offset * u.deg)
            circle = Circle(centre.ra.deg, centre.dec.deg, radius)
            ranges = assert_good_cover(circle, 500, rng)
            if circle.contains(spot.ra.deg, spot.dec.deg):
                assert ranges_contain(ranges, healpix_index(spot.ra.deg, spot.dec.deg))
        assert_good_cover(Circle(spot.ra.deg, spot.dec.deg, radius), 500, rng)
        assert_good_cover(Circle(124.82, -20.601, radius), 500, rng)


def kept_cells(circle: Circle) -> set[int]:
    """The cells (at the cover's depth) that the cover's rule keeps, found by brute force.

    The rule: a cell whose centre is within radius + margin + reach of the circle's
    centre, evaluated with the same arithmetic as the cover. Candidates are the
    cells of points sampled every tenth of a cell across a cap wider than that, so
    every cell with its centre in reach is among them.
    """
    depth = local_cover._depth(circle.radius)
    reach = math.radians(circle.radius + 1e-8) + local_cover._CELL_REACH[depth]
    size = math.sqrt(4 * math.pi / 12) / 2**depth
    rings = np.arange(0.0, reach + 2 * size, size / 10)
    distance = np.concatenate([np.full(max(1, int(2 * np.pi * d / (size / 10))), d) for d in rings])
    angle = np.concatenate([np.linspace(0, 2 * np.pi, (distance == d).sum(), False) for d in rings])
    ra, dec = offset_points(circle.ra, circle.dec, np.degrees(distance), angle)
    candidates = np.unique(healpix_index(ra, dec, order=depth))
    x, y, z = local_cover._nested_to_xyz(candidates, np.intc(1 << depth), 0.5, 0.5)
    lon, lat = math.radians(circle.ra), math.radians(circle.dec)
    cos_lat = math.cos(lat)
    chord = np.hypot(
        np.hypot(x - cos_lat * math.cos(lon), y - cos_lat * math.sin(lon)), z - math.sin(lat)
    )
    assert chord.max() > 2 * math.sin(reach / 2)  # the candidates reach beyond the rule
    return set(candidates[chord <= 2 * math.sin(reach / 2)].tolist())


@pytest.mark.parametrize("centre", [*SPECIAL_CENTRES[::3], (124.82, -20.601), (17.3, -71.2)])
@pytest.mark.parametrize("radius", [0.0, 2e-6, 1 / 3600, 0.1, 1.0])
def test_cover_is_exactly_the_cells_its_rule_keeps(
    centre: tuple[float, float], radius: float
) -> None:
    """No cell the rule keeps is missed by the block and walk, and none is added."""
    circle = Circle(*centre, radius)
    ranges = small_circle_ranges(circle)
    assert ranges is not None
    shift = 2 * (29 - local_cover._depth(radius))
    cells = {cell for start, end in ranges.tolist() for cell in range(start >> shift, end >> shift)}
    assert cells == kept_cells(circle)
    assert len(cells) > 1


def test_typical_cover_is_a_few_times_the_circle() -> None:
    """The bound in loosest_cover is the worst case; typical covers are much tighter."""
    rng = np.random.default_rng(11)
    for radius in (1 / 3600, 1 / 60, 0.5):
        ratios = []
        for _ in range(200):
            centre = rng.uniform(0.0, 360.0), math.degrees(math.asin(rng.uniform(-1.0, 1.0)))
            ranges = small_circle_ranges(Circle(*centre, radius))
            assert ranges is not None and len(ranges) <= 20
            ratios.append((ranges[:, 1] - ranges[:, 0]).sum() / cap_cells(radius))
        assert np.median(ratios) < 5.0
        assert max(ratios) < 6.0


def test_none_beyond_the_limits() -> None:
    assert small_circle_ranges(Circle(10.0, 20.0, SMALL_CIRCLE_MAX_RADIUS)) is not None
    for radius in (SMALL_CIRCLE_MAX_RADIUS * (1 + 1e-12), 2.0, 90.0, 180.0):
        assert small_circle_ranges(Circle(10.0, 20.0, radius)) is None


def cell_count(circle: Circle, ranges: np.ndarray) -> int:
    """How many cells, at the depth the cover uses, ``ranges`` hold."""
    shift = 2 * (29 - local_cover._depth(circle.radius))
    return int((ranges[:, 1] - ranges[:, 0]).sum()) >> shift


@pytest.mark.parametrize("centre", [(10.0, 20.0), (0.0, CORNER_DEC), (0.0, 90.0), (45.0, 0.0)])
@pytest.mark.parametrize("radius", [0.0, 1 / 3600, 0.5, 1.0])
def test_none_beyond_max_cells(centre: tuple[float, float], radius: float) -> None:
    circle = Circle(*centre, radius)
    ranges = small_circle_ranges(circle)
    assert ranges is not None
    cells = cell_count(circle, ranges)
    assert 1 < cells <= 64
    exact = small_circle_ranges(circle, max_cells=cells)
    assert exact is not None and np.array_equal(exact, ranges)
    assert small_circle_ranges(circle, max_cells=cells - 1) is None
    assert small_circle_ranges(circle, max_cells=1) is None


def test_max_cells_counts_the_walk_beyond_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """A limit crossed only while walking on from the block still gives None."""
    walks = []
    grow = local_cover._grow

    def counting_grow(*args):
        walks.append(1)
        return grow(*args)

    monkeypatch.setattr(local_cover, "_grow", counting_grow)
    circle = Circle(0.0, CORNER_DEC, 1.0)  # the block stops at base-cell edges here
    ranges = small_circle_ranges(circle)
    assert ranges is not None and walks
    assert_covers(circle, ranges, *circle_points(circle, 3000, np.random.default_rng(8)))
    cells = cell_count(circle, ranges)
    assert small_circle_ranges(circle, max_cells=cells) is not None
    assert small_circle_ranges(circle, max_cells=cells - 1) is None


@pytest.mark.parametrize("max_cells", [0, -3, True, 2.5, "8"])
def test_invalid_max_cells(max_cells) -> None:
    with pytest.raises(UsageError, match="max_cells must be a positive integer"):
        small_circle_ranges(Circle(1.0, 2.0, 0.1), max_cells=max_cells)


# --- The facts the cover rests on ---------------------------------------------------


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4])
def test_neighbours_are_exactly_the_cells_sharing_a_vertex(depth: int) -> None:
    """Every cell, compared with the cells that share one of its (cdshealpix) vertices."""
    n_cells = 12 * 4**depth
    cells = np.arange(n_cells, dtype=np.uint64)
    lon, lat = vertices(cells, depth)
    corners = unit_xyz(lon.deg.ravel(), lat.deg.ravel())
    owner = np.repeat(np.arange(n_cells), 4)
    sharing: list[set[int]] = [set() for _ in range(n_cells)]
    for i, j in cKDTree(corners).query_pairs(1e-9):
        if owner[i] != owner[j]:
            sharing[owner[i]].add(int(owner[j]))
            sharing[owner[j]].add(int(owner[i]))
    with np.errstate(invalid="ignore"):
        listed = np.stack(local_cover._neighbours(np.arange(n_cells), np.intc(1 << depth)))
    sizes = []
    for cell in range(n_cells):
        found = set(listed[:, cell].tolist()) - {-1}
        assert found == sharing[cell], cell
        sizes.append(len(found))
    if depth == 0:  # each base cell has two corners where only three cells meet
        assert set(sizes) == {6}
    else:  # the three cells at each of those 8 corners have 7 neighbours
        assert sizes.count(7) == 8 * 3 and set(sizes) == {7, 8}


@pytest.mark.parametrize("depth", [5, 10, 17, 23, 29])
def test_neighbours_include_every_cell_at_a_vertex(depth: int) -> None:
    """Deeper down: cells just around each vertex of sampled cells are all listed.

    Sampled cells sit at base-cell edges, corners and poles (where the grid bends)
    and at random.
    """
    rng = np.random.default_rng(depth)
    nside = 1 << depth
    edge = [0, 1, nside - 2, nside - 1]
    xs = np.concatenate([np.repeat(edge, 4), rng.integers(0, nside, 24)])
    ys = np.concatenate([np.tile(edge, 4), rng.integers(0, nside, 24)])
    local = np.array(
        [
            local_cover._spread(int(x)) | local_cover._spread(int(y)) << 1
            for x, y in zip(xs, ys, strict=True)
        ]
    )
    cells = (np.arange(12)[:, None] * 4**depth + local).ravel()
    with np.errstate(invalid="ignore"):
        listed = np.stack(local_cover._neighbours(cells, np.intc(nside)))
    lon, lat = vertices(cells.astype(np.uint64), depth)
    step = math.degrees(math.sqrt(4 * math.pi / 12)) / nside * 1e-3
    angles = np.linspace(0.0, 2.0 * np.pi, 16, endpoint=False)
    points = [
        offset_points(a, b, np.full(16, step), angles)
        for a, b in zip(lon.deg.ravel(), lat.deg.ravel(), strict=True)
    ]
    ra_near = np.concatenate([a for a, _ in points])
    dec_near = np.concatenate([b for _, b in points])
    near = healpix_index(ra_near, dec_near, order=depth).reshape(len(cells), -1)
    for k, cell in enumerate(cells.tolist()):
        assert set(near[k].tolist()) <= {cell, *listed[:, k].tolist()}, cell


@pytest.mark.parametrize("depth", [0, 1, 3, 5, 9, 14, 20, 29])
def test_block_holds_every_neighbour_of_its_inner_cells(depth: int) -> None:
    rng = np.random.default_rng(depth)
    nside = 1 << depth
    starts = np.concatenate(
        [
            rng.integers(0, 12 * 4**depth, 40),
            healpix_index(np.arange(0, 360, 45), CORNER_DEC, order=depth),
            healpix_index([0, 90], [90, -90], order=depth),
        ]
    )
    for seed in starts.tolist():
        cells, border, seed_at = local_cover._block(seed, depth)
        assert cells[seed_at] == seed
        assert len(set(cells.tolist())) == len(cells)
        assert (cells // 4**depth == seed // 4**depth).all()  # one base cell
        inner = cells[~border]
        with np.errstate(invalid="ignore"):
            around = np.concatenate(local_cover._neighbours(inner, np.intc(nside)))
        assert np.isin(around, cells).all()
        if len(cells) == local_cover._BLOCK_SIDE**2:
            # A whole block is the cells within _BLOCK neighbour steps of the seed.
            ring, seen = [seed], {seed}
            for _ in range(local_cover._BLOCK):
                ring = local_cover._grow(ring, np.intc(nside), seen)
            assert seen == set(cells.tolist())
            assert set(ring) == set(cells[border].tolist())


def test_cell_reach_is_the_largest_vertex_distance() -> None:
    """The per-depth reach (before slack) is HEALPix's max_pixrad: every cell, exhaustively."""
    for depth in range(7):
        cells = np.arange(12 * 4**depth, dtype=np.uint64)
        lon, lat = healpix_to_lonlat(cells, depth)
        corner_lon, corner_lat = vertices(cells, depth)
        farthest = angular_distance(
            lon.deg[:, None], lat.deg[:, None], corner_lon.deg, corner_lat.deg
        ).max()
        assert math.radians(farthest) == pytest.approx(local_cover._max_pixrad(depth), rel=1e-9)


@pytest.mark.parametrize("depth", [0, 2, 6, 10, 15, 20, 25, 29])
def test_no_point_of_a_cell_is_beyond_the_reach(depth: int) -> None:
    """Points all over sampled cells, including those where cells are most distorted."""
    rng = np.random.default_rng(depth)
    n_cells = 12 * 4**depth
    # Cells at the poles, the three-cell corners, near z = 2/3 (where max_pixrad
    # is reached) and at random.
    ra = np.concatenate([rng.uniform(0, 360, 60), np.arange(0, 360, 15.0), np.zeros(4)])
    dec = np.concatenate(
        [
            np.degrees(np.arcsin(rng.uniform(-1, 1, 60))),
            np.resize([CORNER_DEC, -CORNER_DEC, CORNER_DEC + 1e-7, 89.9999999], 24),
            [90.0, -90.0, CORNER_DEC, -CORNER_DEC],
        ]
    )
    cells = np.unique(healpix_index(ra, dec, order=depth)).astype(np.uint64)
    cells = np.unique(np.concatenate([cells, rng.integers(0, n_cells, 40).astype(np.uint64)]))
    # Cell centres as the cover computes them (astropy-healpix), points from cdshealpix.
    x, y, z = local_cover._nested_to_xyz(cells.astype(np.int64), np.intc(1 << depth), 0.5, 0.5)
    # arctan2 keeps the latitude precise next to the poles, where z rounds to 1.
    centre_ra, centre_dec = np.degrees(np.arctan2(y, x)), np.degrees(np.arctan2(z, np.hypot(x, y)))
    reach = math.degrees(local_cover._CELL_REACH[depth])
    grid = np.concatenate([np.linspace(0.0, 1.0 - 1e-12, 9), rng.random(6)])
    for dx in grid:
        for dy in (0.0, 1.0 - 1e-12, float(rng.random())):
            for a, b in ((dx, dy), (dy, dx)):
                lon, lat = healpix_to_lonlat(cells, depth, dx=a, dy=b)
                assert (angular_distance(centre_ra, centre_dec, lon.deg, lat.deg) <= reach).all()


def test_cell_reach_is_a_small_multiple_of_the_cell_size() -> None:
    """Bounds the cover's looseness (see loosest_cover)."""
    for depth, reach in enumerate(local_cover._CELL_REACH):
        size = math.sqrt(4 * math.pi / 12) / 2**depth
        assert 0.7 * size < reach <= 1.06 * size


def test_depth_gives_cells_half_to_one_radius_across() -> None:
    for radius in 10.0 ** np.linspace(-6.5, 0.0, 200):
        depth = local_cover._depth(float(radius))
        size = math.degrees(math.sqrt(4 * math.pi / 12)) / 2**depth
        assert size <= max(radius, CELL_29) * (1 + 1e-12)
        assert depth == 29 or size >= radius / 2
