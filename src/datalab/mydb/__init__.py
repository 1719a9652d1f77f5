"""Per-user tables (myDB): saved query results and imported files, queryable as mydb.t."""

from datalab.mydb.describe import MyDBTable
from datalab.mydb.names import check_table_name, check_user
from datalab.mydb.service import MyDB

__all__ = ["MyDB", "MyDBTable", "check_table_name", "check_user"]
