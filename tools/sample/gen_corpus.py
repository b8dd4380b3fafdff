#!/usr/bin/env python3
"""Write the self-written sample corpus and a BEIR-format evaluation set.

Every sentence comes from the fact tables below (written for this project),
so the data is free to use. Output (committed):

  examples/sample/corpus.jsonl            one document per line: id, title, text, category, year
  examples/beir-sample/corpus.jsonl       BEIR corpus: _id, title, text
  examples/beir-sample/queries.jsonl      BEIR queries: _id, text
  examples/beir-sample/qrels/test.tsv     query-id, corpus-id, score (2 = the answer, 1 = same topic)

Run: python3 tools/sample/gen_corpus.py
"""
import json
import os
import random

COUNTRIES = [
    # name, capital, continent, language, currency, landmark
    ("France", "Paris", "Europe", "French", "euro", "the Eiffel Tower"),
    ("Germany", "Berlin", "Europe", "German", "euro", "the Brandenburg Gate"),
    ("Italy", "Rome", "Europe", "Italian", "euro", "the Colosseum"),
    ("Spain", "Madrid", "Europe", "Spanish", "euro", "the Alhambra"),
    ("Portugal", "Lisbon", "Europe", "Portuguese", "euro", "the Belem Tower"),
    ("Netherlands", "Amsterdam", "Europe", "Dutch", "euro", "its canals and windmills"),
    ("Belgium", "Brussels", "Europe", "Dutch and French", "euro", "the Atomium"),
    ("Switzerland", "Bern", "Europe", "German, French and Italian", "Swiss franc", "the Matterhorn"),
    ("Austria", "Vienna", "Europe", "German", "euro", "Schonbrunn Palace"),
    ("Poland", "Warsaw", "Europe", "Polish", "zloty", "Wawel Castle"),
    ("Sweden", "Stockholm", "Europe", "Swedish", "krona", "the Vasa Museum"),
    ("Norway", "Oslo", "Europe", "Norwegian", "krone", "its fjords"),
    ("Finland", "Helsinki", "Europe", "Finnish and Swedish", "euro", "Suomenlinna fortress"),
    ("Greece", "Athens", "Europe", "Greek", "euro", "the Acropolis"),
    ("Ireland", "Dublin", "Europe", "Irish and English", "euro", "the Cliffs of Moher"),
    ("United Kingdom", "London", "Europe", "English", "pound sterling", "Big Ben"),
    ("Japan", "Tokyo", "Asia", "Japanese", "yen", "Mount Fuji"),
    ("China", "Beijing", "Asia", "Mandarin Chinese", "renminbi", "the Great Wall"),
    ("India", "New Delhi", "Asia", "Hindi and English", "rupee", "the Taj Mahal"),
    ("South Korea", "Seoul", "Asia", "Korean", "won", "Gyeongbokgung Palace"),
    ("Thailand", "Bangkok", "Asia", "Thai", "baht", "the Grand Palace"),
    ("Vietnam", "Hanoi", "Asia", "Vietnamese", "dong", "Ha Long Bay"),
    ("Indonesia", "Jakarta", "Asia", "Indonesian", "rupiah", "Borobudur temple"),
    ("Turkey", "Ankara", "Asia", "Turkish", "lira", "Hagia Sophia"),
    ("Egypt", "Cairo", "Africa", "Arabic", "Egyptian pound", "the pyramids of Giza"),
    ("Kenya", "Nairobi", "Africa", "Swahili and English", "shilling", "the Maasai Mara"),
    ("Nigeria", "Abuja", "Africa", "English", "naira", "Zuma Rock"),
    ("South Africa", "Pretoria", "Africa", "eleven official languages", "rand", "Table Mountain"),
    ("Morocco", "Rabat", "Africa", "Arabic and Berber", "dirham", "the medina of Fez"),
    ("Ethiopia", "Addis Ababa", "Africa", "Amharic", "birr", "the rock churches of Lalibela"),
    ("Brazil", "Brasilia", "South America", "Portuguese", "real", "the Christ the Redeemer statue"),
    ("Argentina", "Buenos Aires", "South America", "Spanish", "peso", "Iguazu Falls"),
    ("Peru", "Lima", "South America", "Spanish and Quechua", "sol", "Machu Picchu"),
    ("Chile", "Santiago", "South America", "Spanish", "peso", "the Atacama Desert"),
    ("Colombia", "Bogota", "South America", "Spanish", "peso", "the walled city of Cartagena"),
    ("Canada", "Ottawa", "North America", "English and French", "Canadian dollar", "Niagara Falls"),
    ("Mexico", "Mexico City", "North America", "Spanish", "peso", "Chichen Itza"),
    ("United States", "Washington", "North America", "English", "dollar", "the Statue of Liberty"),
    ("Australia", "Canberra", "Oceania", "English", "Australian dollar", "the Sydney Opera House"),
    ("New Zealand", "Wellington", "Oceania", "English and Maori", "New Zealand dollar", "Milford Sound"),
]

ANIMALS = [
    # name, class, habitat, diet, fact
    ("lion", "mammal", "African savanna", "carnivore", "lives in groups called prides"),
    ("tiger", "mammal", "Asian forests", "carnivore", "is the largest living cat species"),
    ("elephant", "mammal", "African and Asian grasslands", "herbivore", "has a trunk used for grasping and drinking"),
    ("giraffe", "mammal", "African savanna", "herbivore", "is the tallest land animal"),
    ("polar bear", "mammal", "Arctic sea ice", "carnivore", "hunts seals on the ice"),
    ("panda", "mammal", "bamboo forests of central China", "herbivore", "eats bamboo for most of the day"),
    ("kangaroo", "mammal", "Australian grasslands", "herbivore", "carries its young in a pouch"),
    ("koala", "mammal", "eucalyptus forests of Australia", "herbivore", "sleeps up to twenty hours a day"),
    ("wolf", "mammal", "forests and tundra of the northern hemisphere", "carnivore", "hunts in packs"),
    ("dolphin", "mammal", "oceans worldwide", "carnivore", "uses echolocation to find fish"),
    ("blue whale", "mammal", "open oceans", "filter feeder", "is the largest animal ever known"),
    ("bat", "mammal", "caves and forests", "insectivore", "is the only mammal capable of true flight"),
    ("eagle", "bird", "mountains and forests", "carnivore", "has eyesight far sharper than a human's"),
    ("penguin", "bird", "Antarctica and southern oceans", "carnivore", "cannot fly but swims very well"),
    ("owl", "bird", "forests worldwide", "carnivore", "hunts at night in near silence"),
    ("parrot", "bird", "tropical rainforests", "herbivore", "can imitate human speech"),
    ("flamingo", "bird", "salt lakes and lagoons", "filter feeder", "gets its pink color from its food"),
    ("hummingbird", "bird", "the Americas", "nectar feeder", "can hover and fly backwards"),
    ("crocodile", "reptile", "tropical rivers", "carnivore", "has one of the strongest bites of any animal"),
    ("sea turtle", "reptile", "warm oceans", "omnivore", "returns to the beach where it hatched to lay eggs"),
    ("chameleon", "reptile", "Madagascar and Africa", "insectivore", "changes color to signal its mood"),
    ("cobra", "reptile", "South and Southeast Asia", "carnivore", "spreads a hood when threatened"),
    ("frog", "amphibian", "ponds and wetlands", "insectivore", "breathes partly through its skin"),
    ("salamander", "amphibian", "damp forests", "carnivore", "can regrow lost limbs"),
    ("shark", "fish", "oceans worldwide", "carnivore", "has skeleton made of cartilage"),
    ("salmon", "fish", "rivers and the north Atlantic and Pacific", "carnivore", "swims upstream to spawn"),
    ("octopus", "mollusc", "ocean floors", "carnivore", "has three hearts and blue blood"),
    ("honeybee", "insect", "meadows and gardens", "nectar feeder", "communicates with a waggle dance"),
    ("butterfly", "insect", "meadows worldwide", "nectar feeder", "starts life as a caterpillar"),
    ("ant", "insect", "nearly every land habitat", "omnivore", "lives in colonies with a queen"),
]

ELEMENTS = [
    # name, symbol, number, kind, use
    ("hydrogen", "H", 1, "nonmetal", "fuels stars by nuclear fusion"),
    ("helium", "He", 2, "noble gas", "fills balloons and cools superconducting magnets"),
    ("carbon", "C", 6, "nonmetal", "forms the backbone of organic molecules"),
    ("nitrogen", "N", 7, "nonmetal", "makes up most of the air we breathe"),
    ("oxygen", "O", 8, "nonmetal", "is needed for respiration and combustion"),
    ("sodium", "Na", 11, "alkali metal", "combines with chlorine to make table salt"),
    ("aluminium", "Al", 13, "metal", "is used in light cans and aircraft"),
    ("silicon", "Si", 14, "metalloid", "is the basis of computer chips"),
    ("chlorine", "Cl", 17, "halogen", "disinfects drinking water"),
    ("iron", "Fe", 26, "transition metal", "is the main ingredient of steel"),
    ("copper", "Cu", 29, "transition metal", "carries electricity in wires"),
    ("silver", "Ag", 47, "transition metal", "has the highest electrical conductivity of any element"),
    ("gold", "Au", 79, "transition metal", "is prized for jewelry because it does not tarnish"),
    ("mercury", "Hg", 80, "transition metal", "is liquid at room temperature"),
    ("lead", "Pb", 82, "metal", "shields against radiation"),
    ("uranium", "U", 92, "actinide", "fuels nuclear power plants"),
    ("neon", "Ne", 10, "noble gas", "glows red in advertising signs"),
    ("calcium", "Ca", 20, "alkaline earth metal", "builds bones and teeth"),
    ("titanium", "Ti", 22, "transition metal", "is strong, light and resists corrosion"),
    ("lithium", "Li", 3, "alkali metal", "stores energy in rechargeable batteries"),
]

LANGUAGES = [
    # name, year, creator, paradigm, use
    ("Python", 1991, "Guido van Rossum", "multi-paradigm", "data science, scripting and web backends"),
    ("Go", 2009, "Robert Griesemer, Rob Pike and Ken Thompson at Google", "concurrent and compiled", "cloud services and command-line tools"),
    ("Rust", 2015, "Graydon Hoare and Mozilla", "systems, memory-safe without a garbage collector", "browsers, operating systems and embedded code"),
    ("Java", 1995, "James Gosling at Sun Microsystems", "object-oriented", "enterprise applications and Android"),
    ("C", 1972, "Dennis Ritchie at Bell Labs", "procedural systems", "operating systems and embedded devices"),
    ("C++", 1985, "Bjarne Stroustrup", "multi-paradigm systems", "games, browsers and high-performance software"),
    ("JavaScript", 1995, "Brendan Eich at Netscape", "dynamic, event-driven", "web pages and Node.js servers"),
    ("TypeScript", 2012, "Microsoft", "statically typed superset of JavaScript", "large web applications"),
    ("Haskell", 1990, "a committee of researchers", "purely functional, lazy", "compilers and research"),
    ("Lisp", 1958, "John McCarthy", "functional, homoiconic", "artificial intelligence research"),
    ("SQL", 1974, "Donald Chamberlin and Raymond Boyce at IBM", "declarative query", "relational databases"),
    ("Ruby", 1995, "Yukihiro Matsumoto", "object-oriented, dynamic", "web applications with Rails"),
    ("Swift", 2014, "Apple", "compiled, safe", "iOS and macOS apps"),
    ("Kotlin", 2011, "JetBrains", "statically typed for the JVM", "Android apps"),
    ("Fortran", 1957, "John Backus at IBM", "imperative, numeric", "scientific computing and weather models"),
    ("COBOL", 1959, "a committee led by Grace Hopper's ideas", "business-oriented", "banking and government mainframes"),
    ("Erlang", 1986, "Joe Armstrong at Ericsson", "functional, concurrent", "telecom switches and fault-tolerant systems"),
    ("R", 1993, "Ross Ihaka and Robert Gentleman", "statistical", "statistics and data visualization"),
    ("Julia", 2012, "Jeff Bezanson, Stefan Karpinski, Viral Shah and Alan Edelman", "dynamic, high-performance", "numerical computing"),
    ("Prolog", 1972, "Alain Colmerauer", "logic programming", "expert systems and parsing"),
]

PLANETS = [
    # name, order, kind, moons, fact
    ("Mercury", 1, "rocky", "no moons", "is the smallest planet and closest to the Sun"),
    ("Venus", 2, "rocky", "no moons", "is the hottest planet because of its thick carbon dioxide atmosphere"),
    ("Earth", 3, "rocky", "one moon", "is the only planet known to support life"),
    ("Mars", 4, "rocky", "two small moons, Phobos and Deimos", "is called the red planet because of iron oxide dust"),
    ("Jupiter", 5, "gas giant", "dozens of moons including Ganymede", "is the largest planet and has the Great Red Spot storm"),
    ("Saturn", 6, "gas giant", "many moons including Titan", "has the most spectacular ring system"),
    ("Uranus", 7, "ice giant", "27 known moons", "rotates on its side"),
    ("Neptune", 8, "ice giant", "16 known moons including Triton", "has the fastest winds in the solar system"),
]

SPORTS = [
    # name, players, equipment, origin, fact
    ("football", "eleven players per side", "a ball and two goals", "England", "the World Cup is its biggest tournament"),
    ("basketball", "five players per side", "a ball and two hoops", "the United States", "it was invented by James Naismith in 1891"),
    ("tennis", "one or two players per side", "rackets, a ball and a net", "England", "Wimbledon is its oldest tournament"),
    ("cricket", "eleven players per side", "a bat, a ball and wickets", "England", "a test match can last five days"),
    ("baseball", "nine players per side", "a bat, a ball and gloves", "the United States", "the World Series decides the champion"),
    ("ice hockey", "six players per side", "sticks, skates and a puck", "Canada", "the Stanley Cup is its oldest trophy"),
    ("rugby", "fifteen players per side", "an oval ball", "England", "players may carry the ball forward but pass it backwards"),
    ("golf", "individual players", "clubs and a small ball", "Scotland", "the aim is to finish each hole in as few strokes as possible"),
    ("volleyball", "six players per side", "a ball and a high net", "the United States", "a team may touch the ball three times"),
    ("table tennis", "one or two players per side", "paddles, a light ball and a net", "England", "it is very popular in China"),
    ("cycling", "individual riders or teams", "bicycles", "France", "the Tour de France is its most famous race"),
    ("swimming", "individual swimmers", "a pool", "ancient times", "freestyle, backstroke, breaststroke and butterfly are its strokes"),
]


def docs():
    out = []
    for name, capital, cont, lang, cur, land in COUNTRIES:
        out.append(("country", name, f"{name} is a country in {cont}. Its capital is {capital}. People there speak {lang} "
                    f"and pay with the {cur}. A famous sight is {land}.", {"capital": capital, "continent": cont}))
        out.append(("city", capital, f"{capital} is the capital city of {name}, in {cont}. It is the seat of the "
                    f"national government of {name}.", {"country": name, "continent": cont}))
    for name, capital, cont, lang, cur, land in COUNTRIES:
        sight = land[0].upper() + land[1:]
        out.append(("landmark", f"{name} sight", f"{sight} is one of the best known attractions of {name}. Visitors "
                    f"often start their trip in {capital}.", {"country": name}))
    for name, cls, habitat, diet, fact in ANIMALS:
        out.append(("habitat", f"{name} habitat", f"In {habitat} you may meet the {name}, which feeds as a {diet}.",
                    {"class": cls}))
    for name, cls, habitat, diet, fact in ANIMALS:
        out.append(("animal", name.capitalize(), f"The {name} is a {cls} that lives in {habitat}. It is a {diet}. "
                    f"The {name} {fact}.", {"class": cls}))
    for name, sym, num, kind, use in ELEMENTS:
        out.append(("element", name.capitalize(), f"{name.capitalize()} is a chemical element with symbol {sym} and "
                    f"atomic number {num}. It is a {kind}. {name.capitalize()} {use}.", {"symbol": sym, "number": num}))
    for name, year, who, para, use in LANGUAGES:
        out.append(("language", name, f"{name} is a programming language created in {year} by {who}. It is "
                    f"{para}, and is used for {use}.", {"year": year}))
    for name, order, kind, moons, fact in PLANETS:
        out.append(("planet", name, f"{name} is planet number {order} from the Sun, a {kind} planet with {moons}. "
                    f"{name} {fact}.", {"order": order}))
    for name, players, eq, origin, fact in SPORTS:
        out.append(("sport", name.capitalize(), f"{name.capitalize()} is a sport played by {players} with {eq}. "
                    f"It comes from {origin}, and {fact}.", {}))
    return out


def queries(corpus_ids):
    """(query text, relevant doc id) pairs phrased unlike the documents."""
    q = []
    for name, capital, cont, *_ in COUNTRIES:
        q.append((f"What is the capital of {name}?", f"city-{capital}", f"country-{name}"))
        q.append((f"Which country has {capital} as its capital?", f"country-{name}", f"city-{capital}"))
    for name, capital, cont, lang, cur, land in COUNTRIES:
        q.append((f"Where can I see {land}?", f"landmark-{name} sight", f"country-{name}"))
    for name, cls, habitat, diet, fact in ANIMALS:
        q.append((f"{fact.split(' ', 1)[1] if fact.startswith('is ') else fact}", f"animal-{name.capitalize()}", None))
    for name, sym, num, kind, use in ELEMENTS:
        q.append((f"which element has the symbol {sym}", f"element-{name.capitalize()}", None))
    for name, year, who, *_ in LANGUAGES:
        q.append((f"programming language designed by {who}", f"language-{name}", None))
    for name, order, kind, moons, fact in PLANETS:
        q.append((f"planet with {moons}", f"planet-{name}", None))
    for name, players, eq, origin, fact in SPORTS:
        q.append((f"sport played with {eq}", f"sport-{name.capitalize()}", None))
    return [(t, a, b) for t, a, b in q if a in corpus_ids]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
    rows = []
    rng = random.Random(7)
    for kind, title, text, extra in docs():
        rows.append({"id": f"{kind}-{title.replace(' ', '_')}", "title": title, "text": text, "category": kind,
                     "year": 1990 + rng.randrange(35), **extra})
    os.makedirs(os.path.join(root, "sample"), exist_ok=True)
    with open(os.path.join(root, "sample", "corpus.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    beir = os.path.join(root, "beir-sample")
    os.makedirs(os.path.join(beir, "qrels"), exist_ok=True)
    ids = {r["id"] for r in rows}
    with open(os.path.join(beir, "corpus.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps({"_id": r["id"], "title": r["title"], "text": r["text"]}, ensure_ascii=False) + "\n")
    qs = queries({i.replace("_", " ") for i in ids} | ids)
    with open(os.path.join(beir, "queries.jsonl"), "w") as fq, open(os.path.join(beir, "qrels", "test.tsv"), "w") as fr:
        fr.write("query-id\tcorpus-id\tscore\n")
        for n, (text, rel, related) in enumerate(qs):
            qid = f"q{n + 1}"
            fq.write(json.dumps({"_id": qid, "text": text}) + "\n")
            fr.write(f"{qid}\t{rel.replace(' ', '_')}\t2\n")
            if related:
                fr.write(f"{qid}\t{related.replace(' ', '_')}\t1\n")
    print(f"{len(rows)} documents, {len(qs)} queries")


if __name__ == "__main__":
    main()
