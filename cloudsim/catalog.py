"""Fixed catalogs of the simulated region: instance types, images, database and cache classes."""

from __future__ import annotations

# (type id, family, vCPU, memory GiB)
INSTANCE_TYPES = [
    ("ecs.t5-lc1m1.small", "ecs.t5", 1, 1),
    ("ecs.t5-lc1m2.small", "ecs.t5", 1, 2),
    ("ecs.c6.large", "ecs.c6", 2, 4),
    ("ecs.c6.xlarge", "ecs.c6", 4, 8),
    ("ecs.c6.2xlarge", "ecs.c6", 8, 16),
    ("ecs.g6.large", "ecs.g6", 2, 8),
    ("ecs.g6.xlarge", "ecs.g6", 4, 16),
    ("ecs.g6.2xlarge", "ecs.g6", 8, 32),
    ("ecs.g6.4xlarge", "ecs.g6", 16, 64),
    ("ecs.r6.large", "ecs.r6", 2, 16),
    ("ecs.r6.xlarge", "ecs.r6", 4, 32),
    ("ecs.r6.2xlarge", "ecs.r6", 8, 64),
]
INSTANCE_TYPE_MAP = {t[0]: {"family": t[1], "vcpu": t[2], "memory_gib": t[3]} for t in INSTANCE_TYPES}

# (image id, name, OS name, OS type, size GiB)
IMAGES = [
    ("centos_7_9_x64_20G_alibase_20230919.vhd", "CentOS 7.9 64-bit", "CentOS 7.9 64 bit", "linux", 20),
    ("aliyun_3_x64_20G_alibase_20230727.vhd", "Alibaba Cloud Linux 3", "Alibaba Cloud Linux 3.2104 64 bit",
     "linux", 20),
    ("ubuntu_22_04_x64_20G_alibase_20230907.vhd", "Ubuntu 22.04 64-bit", "Ubuntu 22.04 64 bit", "linux", 20),
    ("anolisos_8_8_x64_20G_rhck_alibase_20230804.vhd", "Anolis OS 8.8", "Anolis OS 8.8 RHCK 64 bit", "linux", 20),
    ("win2019_1809_x64_dtc_en-us_40G_alibase_20230915.vhd", "Windows Server 2019", "Windows Server 2019 64 bit",
     "windows", 40),
]
IMAGE_MAP = {i[0]: {"name": i[1], "os_name": i[2], "os_type": i[3], "size": i[4]} for i in IMAGES}

DISK_CATEGORIES = ("cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud")

# RDS classes: class code -> (cores, memory MiB, max connections)
RDS_CLASSES = {
    "mysql.n2.small.1": (1, 2048, 600),
    "mysql.n2.medium.1": (2, 4096, 1200),
    "mysql.n4.medium.1": (2, 8192, 2000),
    "mysql.n2.large.1": (4, 8192, 2500),
    "mysql.n4.large.1": (4, 16384, 4000),
    "pg.n2.small.1": (1, 2048, 200),
    "pg.n2.medium.1": (2, 4096, 400),
    "pg.n4.large.1": (4, 16384, 1600),
}
RDS_ENGINES = {"MySQL": ("5.7", "8.0"), "PostgreSQL": ("13.0", "14.0", "15.0"), "SQLServer": ("2019_std_ha",)}

# Redis classes: class code -> (capacity MiB, max connections, bandwidth MB/s)
REDIS_CLASSES = {
    "redis.master.micro.default": (1024, 10000, 48),
    "redis.master.small.default": (2048, 10000, 48),
    "redis.master.mid.default": (4096, 10000, 48),
    "redis.master.stand.default": (8192, 10000, 48),
    "redis.master.large.default": (16384, 20000, 96),
}

SLB_SPECS = ("slb.s1.small", "slb.s2.small", "slb.s2.medium", "slb.s3.small", "slb.s3.medium", "slb.s3.large")
