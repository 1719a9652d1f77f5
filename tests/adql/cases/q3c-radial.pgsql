SELECT objid, ra, dec, mag_g - mag_r AS g_r, q3c_dist(ra, dec, 150.0, 2.0) * 3600 AS sep
FROM ls_mock.tractor
WHERE q3c_radial_query(ra, dec, 150.0, 2.0, 0.1) AND mag_r::real < 22
LIMIT 100
