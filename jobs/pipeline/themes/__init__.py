"""Theme libraries (主题库): 一人一档 gold.person_profile and 一企一档 gold.enterprise_profile."""
