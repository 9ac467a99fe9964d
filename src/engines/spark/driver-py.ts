// The Python driver asof runs under pyspark: one SparkSession for the life of the process, jobs
// read as JSON lines on stdin, one JSON line answered per job on the original stdout. Embedded as
// text so that dist/ needs no data files; the JVM starts once per engine, not once per query.

export const DRIVER_PY = String.raw`
import glob, json, os, shutil, sys, traceback, datetime, decimal

out = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)  # anything Spark or py4j prints goes to stderr, never into the protocol

from pyspark.sql import SparkSession, functions as F, types as T

cfg = json.loads(sys.argv[1])
builder = SparkSession.builder.master(cfg["master"]).appName("asof")
for k, v in cfg["conf"].items():
    builder = builder.config(k, v)
spark = builder.getOrCreate()
spark.sparkContext.setLogLevel("ERROR")
cached = {}


def plain(v):
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return str(v)
    return v


def read_one(path, fmt, columns):
    """One file as a DataFrame of its columns; text formats as strings."""
    if fmt == "csv":
        return spark.read.option("header", True).option("inferSchema", False).option("mode", "PERMISSIVE").csv(path)
    if fmt in ("json", "jsonl"):
        with open(path, "rb") as fh:
            head = fh.read(4096).lstrip()
        multi = head[:1] == b"["
        found = spark.read.option("multiLine", multi).json(path).columns
        schema = T.StructType([T.StructField(c, T.StringType()) for c in found])
        return spark.read.option("multiLine", multi).schema(schema).json(path)
    return spark.read.parquet(path)


def op_read(job):
    frames = []
    for i, path in enumerate(job["files"]):
        try:
            df = read_one(path, job["format"], job["columns"])
        except Exception as e:
            return {"unreadable": {"file": path, "message": str(e).split("\n")[0]}}
        found = [c for c in df.columns if not c.startswith("_corrupt")]
        missing = [c for c in job["columns"] if c not in found]
        if missing:
            return {"missing": {"file": path, "columns": missing, "found": found}}
        df = df.select(*job["columns"])  # contract names are plain identifiers
        df = df.withColumn("__file", F.lit(path)).withColumn("__file_idx", F.lit(i))
        # One file keeps its row order through its splits (equal-sized splits stay in offset order).
        df = df.withColumn("__mono", F.monotonically_increasing_id())
        frames.append(df)
    df = frames[0]
    for f in frames[1:]:
        df = df.unionByName(f, allowMissingColumns=True)
    df.createOrReplaceTempView(job["name"])
    return {"schema": {f.name: f.dataType.simpleString() for f in df.schema.fields}}


def op_materialize(job):
    df = spark.sql(job["sql"])
    old = cached.pop(job["name"], None)
    df = df.cache()
    n = df.count()
    df.createOrReplaceTempView(job["name"])
    if old is not None:
        old.unpersist()
    cached[job["name"]] = df
    return {"rows": n}


def op_query(job):
    df = spark.sql(job["sql"])
    rows = df.collect()
    return {
        "columns": [{"name": f.name, "type": f.dataType.simpleString()} for f in df.schema.fields],
        "rows": [[plain(v) for v in r] for r in rows],
    }


def op_describe(job):
    return {"columns": [{"name": f.name, "type": f.dataType.simpleString()} for f in spark.table(job["name"]).schema.fields]}


def op_write(job):
    target = job["file"]
    tmp = target + ".spark"
    shutil.rmtree(tmp, ignore_errors=True)
    spark.table(job["name"]).coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(tmp)
    parts = sorted(glob.glob(os.path.join(tmp, "part-*.parquet")))
    if len(parts) != 1:
        raise RuntimeError("expected one part file in %s, found %d" % (tmp, len(parts)))
    os.replace(parts[0], target)
    shutil.rmtree(tmp, ignore_errors=True)
    return {}


def op_backfill_chunk(job):
    """A backfill chunk's query written as one Parquet file per date, <dir>/__part=<date>/part-*.parquet,
    rows sorted by the keys, in one job (no cache: the query runs once, inside the write). The date
    column stays in the files (the partition column is a copy); dates without rows get a copy of
    one empty file with the schema. Row counts come from the written files' metadata."""
    target = job["dir"]
    shutil.rmtree(target, ignore_errors=True)
    df = spark.sql(job["sql"])
    columns = [{"name": f.name, "type": f.dataType.simpleString()} for f in df.schema.fields]
    (df.withColumn("__part", F.date_format(F.col("as_of_date"), "yyyy-MM-dd")).repartition("__part")
       .sortWithinPartitions("__part", *job["keys"])
       .write.mode("overwrite").option("compression", "zstd").partitionBy("__part").parquet(target))
    found = [d for d in job["dates"] if os.path.isdir(os.path.join(target, "__part=" + d))]
    counts = {}
    if found:
        written = spark.read.parquet(target)
        counts = {str(r[0]): r[1] for r in written.groupBy(F.col("__part").cast("string")).count().collect()}
    empty = None
    files = {}
    for d in job["dates"]:
        folder = os.path.join(target, "__part=" + d)
        if d not in found:
            if empty is None:
                empty = os.path.join(target, "_empty")
                df.limit(0).coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(empty)
            os.makedirs(folder)
            shutil.copy(sorted(glob.glob(os.path.join(empty, "part-*.parquet")))[0], os.path.join(folder, "part-0.parquet"))
        parts = sorted(glob.glob(os.path.join(folder, "part-*.parquet")))
        if len(parts) != 1:
            raise RuntimeError("expected one part file in %s, found %d" % (folder, len(parts)))
        files[d] = parts[0]
    return {"columns": columns, "files": files, "rows": {d: counts.get(d, 0) for d in job["dates"]}}


def op_training_features(job):
    """A training set's per-point features: the points Parquet file as a temp view, the query
    written as Parquet files under dir (at least one, with the schema, even when empty)."""
    spark.read.parquet(job["points"]).createOrReplaceTempView(job["view"])
    target = job["dir"]
    shutil.rmtree(target, ignore_errors=True)
    try:
        df = spark.sql(job["sql"])
        df.write.mode("overwrite").option("compression", "zstd").parquet(target)
        parts = sorted(glob.glob(os.path.join(target, "part-*.parquet")))
        if not parts:
            shutil.rmtree(target, ignore_errors=True)
            df.limit(0).coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(target)
            parts = sorted(glob.glob(os.path.join(target, "part-*.parquet")))
    finally:
        spark.catalog.dropTempView(job["view"])
    return {"files": parts}


def op_drop(job):
    df = cached.pop(job["name"], None)
    if df is not None:
        df.unpersist()
    spark.catalog.dropTempView(job["name"])
    return {}


# The model warehouse (spark/warehouse.ts): relations are folders of Parquet files under its root
# (a local path or any Hadoop URI such as s3a://), read through catalog views that asof registers
# again in every session. File operations go through Hadoop's FileSystem, so they work on both.
def hpath(p):
    jp = spark._jvm.org.apache.hadoop.fs.Path(p)
    return jp.getFileSystem(spark._jsc.hadoopConfiguration()), jp


def op_fs_read(job):
    fs, p = hpath(job["path"])
    if not fs.exists(p):
        return {"text": None}
    stream = fs.open(p)
    try:
        return {"text": spark._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")}
    finally:
        stream.close()


def op_fs_write(job):
    """Writes a small text file beside, then renames it over the old one."""
    fs, p = hpath(job["path"])
    tmp = spark._jvm.org.apache.hadoop.fs.Path(job["path"] + ".tmp")
    stream = fs.create(tmp, True)
    stream.write(bytearray(job["text"].encode("utf-8")))
    stream.close()
    fs.delete(p, False)
    if not fs.rename(tmp, p):
        raise RuntimeError("cannot rename %s" % job["path"])
    return {}


def op_fs_put(job):
    """Copies a file of this machine into the warehouse (the driver runs beside asof)."""
    fs, p = hpath(job["dst"])
    fs.mkdirs(p.getParent())
    fs.copyFromLocalFile(False, True, spark._jvm.org.apache.hadoop.fs.Path("file://" + job["src"]), p)
    return {}


def op_fs_delete(job):
    fs, p = hpath(job["path"])
    fs.delete(p, True)
    return {}


def op_wh_table(job):
    """The query written whole to a new folder, which then replaces the relation's folder."""
    fs, p = hpath(job["path"])
    tmp_name = job["path"] + ".tmp"
    fs_tmp, tmp = hpath(tmp_name)
    fs.delete(tmp, True)
    df = spark.sql(job["sql"])
    df.write.mode("overwrite").option("compression", "zstd").parquet(tmp_name)
    old = spark._jvm.org.apache.hadoop.fs.Path(job["path"] + ".old")
    fs.delete(old, True)
    if fs.exists(p) and not fs.rename(p, old):
        raise RuntimeError("cannot move %s aside" % job["path"])
    if not fs.rename(tmp, p):
        raise RuntimeError("cannot rename %s" % tmp_name)
    fs.delete(old, True)
    spark.catalog.refreshByPath(job["path"])
    rows = spark.read.parquet(job["path"]).count()
    return {"rows": rows, "columns": [f.name for f in df.schema.fields]}


def op_wh_partitions(job):
    """Dates of an incremental model: the query (one SELECT per date, each kept to its date) written
    under <path>/__part=<date>/ with dynamic partition overwrite, so only those dates are replaced; a
    date left without rows has its folder removed (an overwrite that writes nothing keeps the old)."""
    fs, p = hpath(job["path"])
    col = job["date_column"]
    df = spark.sql(job["sql"]).withColumn("__part", F.date_format(F.col(col), "yyyy-MM-dd")).cache()
    try:
        counts = {str(r[0]): r[1] for r in df.groupBy("__part").count().collect()}
        (df.repartition("__part").write.mode("overwrite").option("partitionOverwriteMode", "dynamic")
           .option("compression", "zstd").partitionBy("__part").parquet(job["path"]))
        for d in job["dates"]:
            if d not in counts:
                fs.delete(spark._jvm.org.apache.hadoop.fs.Path(job["path"] + "/__part=" + d), True)
        listed = fs.listStatus(p) if fs.exists(p) else []
        if not any(s.getPath().getName().startswith("__part=") for s in listed):
            # No date has rows: one empty file keeps the schema readable.
            empty = job["path"] + "/_empty"
            df.limit(0).drop("__part").coalesce(1).write.mode("overwrite").parquet(empty)
            fs.mkdirs(spark._jvm.org.apache.hadoop.fs.Path(job["path"] + "/__part=" + job["dates"][0]))
            for s in fs.listStatus(spark._jvm.org.apache.hadoop.fs.Path(empty)):
                if s.getPath().getName().startswith("part-"):
                    fs.rename(s.getPath(), spark._jvm.org.apache.hadoop.fs.Path(job["path"] + "/__part=" + job["dates"][0] + "/part-empty.parquet"))
            fs.delete(spark._jvm.org.apache.hadoop.fs.Path(empty), True)
        spark.catalog.refreshByPath(job["path"])
        return {"rows": {d: counts.get(d, 0) for d in job["dates"]}, "columns": [f.name for f in df.schema.fields if f.name != "__part"]}
    finally:
        df.unpersist()


def op_export(job):
    """A query written to one Parquet file (a local path): a snapshot or one lake partition."""
    df = spark.sql(job["sql"]).cache()
    try:
        n = df.count()
        target = job["file"]
        tmp = target + ".spark"
        shutil.rmtree(tmp, ignore_errors=True)
        df.coalesce(1).write.mode("overwrite").option("compression", "zstd").parquet(tmp)
        parts = sorted(glob.glob(os.path.join(tmp, "part-*.parquet")))
        if len(parts) != 1:
            raise RuntimeError("expected one part file in %s, found %d" % (tmp, len(parts)))
        os.replace(parts[0], target)
        shutil.rmtree(tmp, ignore_errors=True)
        return {"rows": n}
    finally:
        df.unpersist()

OPS = {"read": op_read, "materialize": op_materialize, "query": op_query, "describe": op_describe, "write": op_write, "backfill_chunk": op_backfill_chunk, "training_features": op_training_features, "drop": op_drop, "fs_read": op_fs_read, "fs_write": op_fs_write, "fs_put": op_fs_put, "fs_delete": op_fs_delete, "wh_table": op_wh_table, "wh_partitions": op_wh_partitions, "export": op_export}

out.write(json.dumps({"id": 0, "ok": True, "version": spark.version}) + "\n")
for line in sys.stdin:
    if not line.strip():
        continue
    job = json.loads(line)
    try:
        res = OPS[job["op"]](job)
        res.update({"id": job["id"], "ok": True})
    except Exception as e:
        res = {"id": job["id"], "ok": False, "error": str(e).split("\n\nJVM stacktrace")[0][:4000]}
    out.write(json.dumps(res) + "\n")
spark.stop()
`;
