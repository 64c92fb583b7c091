"""Cloud SQL instances (``sql/<region>/<name>``): all of the environment's regions (or those the
config lists), and whatever a workload's variable names."""

from __future__ import annotations

from driftcheck.kinds.interface import ResourceKind
from driftcheck.kinds.sql import catalogue
from driftcheck.kinds.sql.collect import collect_sql, early_sql
from driftcheck.kinds.sql.normalize import FIELDS, normalize_sql
from driftcheck.kinds.sql.violations import sql_violations

SQL = ResourceKind(
    name="sql",
    stage=2,  # after connectors: which network a service reaches it over is its connector's
    regional=True,
    collect=collect_sql,
    early=early_sql,
    normalize=normalize_sql,
    catalogue=catalogue.CATALOGUE,
    violation_advice=catalogue.VIOLATIONS,
    causes=catalogue.CAUSES,
    find_violations=sql_violations,
    # How each reference egresses, and the connection budget (which moves with every service's
    # max instances), are judged by violations, not compared.
    judged_elsewhere=("reach*", "connections*"),
    fields=FIELDS,
)
