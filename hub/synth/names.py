"""Name stock for the synthetic county: made-up people with names common in England.

Weights make a few names very common, so unrelated children share names as they do in a
real county; nicknames and transliteration variants are how agencies really differ.
"""

from __future__ import annotations

from typing import Final

GIRLS: Final = [
    ("Olivia", 30), ("Amelia", 28), ("Isla", 22), ("Ava", 20), ("Lily", 18), ("Freya", 16),
    ("Ivy", 14), ("Florence", 12), ("Willow", 12), ("Isabella", 12), ("Mia", 12), ("Sophia", 11),
    ("Grace", 10), ("Evie", 10), ("Ella", 9), ("Poppy", 9), ("Aisha", 8), ("Maryam", 8),
    ("Fatima", 8), ("Zara", 7), ("Katherine", 6), ("Elizabeth", 6), ("Rebecca", 5),
    ("Jessica", 5), ("Amara", 4), ("Zofia", 4), ("Aleksandra", 3), ("Chloe", 6), ("Ruby", 8),
    ("Hannah", 5), ("Nia", 3), ("Priya", 3), ("Oluwaseun", 2), ("Maja", 3), ("Ayesha", 4),
]
BOYS: Final = [
    ("Muhammad", 30), ("Noah", 26), ("Oliver", 25), ("George", 22), ("Leo", 20), ("Arthur", 18),
    ("Oscar", 16), ("Harry", 15), ("Jack", 14), ("Charlie", 14), ("Theodore", 12),
    ("Freddie", 12), ("Alfie", 10), ("Jacob", 9), ("William", 9), ("Thomas", 9),
    ("Alexander", 8), ("Joshua", 7), ("Daniel", 7), ("Benjamin", 7), ("Yusuf", 6),
    ("Ibrahim", 6), ("Kacper", 4), ("Jakub", 4), ("Samuel", 6), ("Joseph", 6), ("Edward", 5),
    ("Jayden", 5), ("Kwame", 2), ("Aarav", 3), ("Tomasz", 3), ("Matthew", 5), ("Robert", 4),
]
SURNAMES: Final = [
    ("Smith", 40), ("Jones", 30), ("Williams", 22), ("Taylor", 20), ("Brown", 20),
    ("Davies", 16), ("Evans", 14), ("Wilson", 14), ("Thomas", 12), ("Johnson", 12),
    ("Roberts", 11), ("Robinson", 10), ("Thompson", 10), ("Wright", 9), ("Walker", 9),
    ("White", 9), ("Hughes", 8), ("Edwards", 8), ("Green", 8), ("Hall", 8), ("Khan", 14),
    ("Patel", 14), ("Begum", 10), ("Ahmed", 10), ("Hussain", 9), ("Ali", 9), ("Singh", 8),
    ("Kaur", 6), ("Okafor", 4), ("Adeyemi", 4), ("Mensah", 3), ("Nowak", 5),
    ("Kowalski", 4), ("Wisniewski", 3), ("O'Brien", 5), ("Murphy", 6), ("Walsh", 5),
    ("Clarke", 7), ("Campbell", 6), ("Mohammed", 6), ("Nguyen", 3), ("Popescu", 3),
    ("Kelly", 5), ("Lewis", 7), ("Jackson", 7), ("Wood", 6), ("Turner", 6), ("Hill", 6),
]
ADULT_WOMEN: Final = [
    ("Sarah", 10), ("Emma", 10), ("Laura", 8), ("Gemma", 7), ("Rachel", 7), ("Nadia", 4),
    ("Priya", 4), ("Joanne", 5), ("Katherine", 5), ("Rebecca", 6), ("Shazia", 3), ("Anna", 5),
    ("Agnieszka", 3), ("Chioma", 3), ("Louise", 5), ("Nicola", 5), ("Kelly", 4),
]
ADULT_MEN: Final = [
    ("Daniel", 10), ("Michael", 10), ("David", 9), ("James", 9), ("Christopher", 7),
    ("Mohammed", 6), ("Lee", 5), ("Adebayo", 3), ("Piotr", 3), ("Richard", 6),
    ("William", 6), ("Robert", 6), ("Andrew", 7), ("Imran", 4), ("Darren", 4), ("Mark", 6),
]
NICKNAMES: Final = {
    "William": ["Bill", "Will", "Billy"], "Katherine": ["Kate", "Katie", "Kath"],
    "Elizabeth": ["Liz", "Beth", "Lizzie"], "Alexander": ["Alex", "Sasha"],
    "Thomas": ["Tom", "Tommy"], "Joshua": ["Josh"], "Daniel": ["Dan", "Danny"],
    "Benjamin": ["Ben"], "Samuel": ["Sam"], "Joseph": ["Joe"], "Edward": ["Ed", "Ted"],
    "Matthew": ["Matt"], "Robert": ["Bob", "Rob", "Bobby"], "Rebecca": ["Becky", "Becca"],
    "Jessica": ["Jess"], "Theodore": ["Theo", "Ted"], "Isabella": ["Bella", "Izzy"],
    "Florence": ["Flo"], "Aleksandra": ["Ola"], "Michael": ["Mike", "Mick"],
    "Christopher": ["Chris"], "David": ["Dave"], "James": ["Jim", "Jamie"],
    "Richard": ["Rich", "Dick"], "Andrew": ["Andy"], "Hannah": ["Han"],
}
TRANSLITERATIONS: Final = {
    "Muhammad": ["Mohammed", "Mohamed", "Muhammed"], "Mohammed": ["Muhammad", "Mohamed"],
    "Yusuf": ["Yousef", "Yusef"], "Aisha": ["Ayesha", "Aysha"], "Ayesha": ["Aisha"],
    "Fatima": ["Fatimah"], "Maryam": ["Mariam", "Maryum"], "Ibrahim": ["Ebrahim"],
    "Zofia": ["Sofia", "Zophia"], "Aleksandra": ["Alexandra"], "Jakub": ["Jacob"],
    "Hussain": ["Hussein", "Husain"], "Mohamed": ["Mohammed"], "Ahmed": ["Ahmad"],
    "Wisniewski": ["Wiśniewski"], "Nguyen": ["Nguyễn"],
}
STREETS: Final = [
    "Mill Lane", "Station Road", "Church Street", "Park Avenue", "Victoria Road", "High Street",
    "Queens Road", "Kings Road", "Manor Way", "Grange Close", "Orchard Drive", "Meadow View",
    "Chapel Lane", "School Lane", "Springfield Road", "The Crescent", "Willow Walk",
    "Beech Grove", "Canal Street", "Albert Terrace", "Hawthorn Rise", "Brook Street",
]
TOWNS: Final = [
    ("Ashby Vale", "LE"), ("Castleford Bridge", "DE"), ("Oakham Cross", "LE"),
    ("Millbrook", "DE"), ("Kingsmead", "NG"), ("Harrowby", "LE"), ("Stoneleigh", "DE"),
]
