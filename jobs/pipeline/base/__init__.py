"""Base libraries (基础库): 人口库 silver.person, 法人库 silver.legal_person, 电子证照库 silver.licence,
and the links from every source record to them (silver.person_link)."""
