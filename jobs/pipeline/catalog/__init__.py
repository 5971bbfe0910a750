"""The data catalogue (政务数据目录): resources, fields and 重复采集, built from conf/ and schemas/."""
