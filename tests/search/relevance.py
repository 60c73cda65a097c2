"""The relevance suite: a fixed multilingual corpus, judged queries, MRR and recall@10.

Used by ``tests/search/test_relevance.py`` (every engine, every test run) and by
``scripts/bench_search.py --relevance`` (the same figures next to the latency numbers).

Each judgment names the documents that must be in the top 3 and those that must (also) be in
the top 10. Relevant = both sets. Per query:

- reciprocal rank: 1 / rank of the first relevant document in the top 10 (0 if none);
- recall@10: the share of the relevant documents in the top 10.

MRR and recall@10 are their means, overall and per language of the query. A judgment may name
a capability (``needs``); an engine that does not claim it (``backend.capabilities``) is not
held to that judgment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from portal.search.base import SearchDoc, SearchQuery

LANGUAGES = ("en", "fr", "es", "ru", "zh", "ar")

# (id, language, title, body)
_DOCS: list[tuple[str, str, str, str]] = [
    # --- English ---------------------------------------------------------------------------
    (
        "agreement:101",
        "en",
        "Adequate housing programme for Nairobi informal settlements",
        "Agreement UNH/2024/017 between UN-Habitat and the County of Nairobi to upgrade informal"
        " settlements, improve tenure security and deliver affordable homes. Contributes to SDG"
        " target 11.1.",
    ),
    (
        "agreement:102",
        "en",
        "Catalytic Action Fund for slum upgrading",
        "A catalytic fund that co-finances community-led slum upgrading with municipal partners"
        " in Kenya and Zambia.",
    ),
    (
        "organization:103",
        "en",
        "Housing Rights Network",
        "A coalition of tenant associations campaigning for the right to adequate shelter.",
    ),
    (
        "agreement:104",
        "en",
        "Water and sanitation in secondary cities",
        "Memorandum of understanding MoU-KE-2023-04 on drinking water, sanitation and hygiene"
        " services for secondary cities. SDG target 6.2.",
    ),
    (
        "agreement:105",
        "en",
        "Climate resilience for coastal cities in Mozambique",
        "Adaptation plans, flood risk mapping and early warning systems with municipal partners"
        " in Beira and Quelimane.",
    ),
    (
        "organization:106",
        "en",
        "Slum Dwellers International",
        "A network of community-based organisations of the urban poor in 32 countries.",
    ),
    (
        "agreement:107",
        "en",
        "Public space and safety for women and girls",
        "Safer streets, lighting and public spaces designed with women and girls in Quito and"
        " Beirut. SDG target 11.7.",
    ),
    (
        "agreement:108",
        "en",
        "Urban mobility and sustainable transport planning",
        "Bus rapid transit, walking and cycling networks for Addis Ababa reduce emissions and"
        " travel times. SDG target 11.2.",
    ),
    (
        "outcome:109",
        "en",
        "Recommendation on land tenure security",
        "The Assembly recommends that member states recognise a continuum of land rights,"
        " including customary tenure.",
    ),
    (
        "agreement:110",
        "en",
        "Solid waste management and circular economy",
        "Waste collection, recycling and composting in Accra, with informal waste pickers as"
        " partners.",
    ),
    (
        "organization:111",
        "en",
        "Cities Alliance",
        "Global partnership for urban poverty reduction and the role of cities in sustainable"
        " development.",
    ),
    (
        "agreement:112",
        "en",
        "Heritage conservation and urban regeneration",
        "Restoring the historic centre of Mosul: rehabilitation of houses, markets and heritage"
        " buildings after the conflict.",
    ),
    (
        "minutes:113",
        "en",
        "Minutes of the Executive Board, second session",
        "The Board discussed the strategic plan, the budget and the housing programme; members"
        " requested an evaluation report.",
    ),
    (
        "agreement:114",
        "en",
        "Data and monitoring for the New Urban Agenda",
        "Urban indicators, SDG indicator 11.3.1 on land consumption and the global urban"
        " monitoring framework.",
    ),
    # --- French ----------------------------------------------------------------------------
    (
        "agreement:201",
        "fr",
        "Programme de logement abordable à Dakar",
        "Accord entre ONU-Habitat et la ville de Dakar pour la construction de logements sociaux"
        " et l'amélioration des quartiers précaires.",
    ),
    (
        "agreement:202",
        "fr",
        "Assainissement et eau potable à Abidjan",
        "Accès à l'eau potable et à l'assainissement dans les quartiers précaires d'Abidjan ;"
        " cible ODD 6.2.",
    ),
    (
        "organization:203",
        "fr",
        "Université de Genève",
        "Recherche urbaine, planification territoriale et formation des urbanistes.",
    ),
    (
        "agreement:204",
        "fr",
        "Résilience urbaine face aux inondations à Niamey",
        "Cartographie des risques d'inondation, systèmes d'alerte précoce et aménagement des"
        " berges du fleuve Niger.",
    ),
    (
        "agreement:205",
        "fr",
        "Sécurité foncière et réhabilitation des quartiers",
        "Régularisation foncière, adressage et réhabilitation des quartiers précaires de"
        " Port-au-Prince.",
    ),
    (
        "organization:206",
        "fr",
        "Association des maires francophones",
        "Réseau de collectivités locales pour la coopération décentralisée et le développement"
        " urbain durable.",
    ),
    (
        "agreement:207",
        "fr",
        "Mobilité urbaine durable à Casablanca",
        "Tramway, bus à haut niveau de service et plan de déplacements urbains.",
    ),
    (
        "outcome:208",
        "fr",
        "Recommandation sur l'égalité des genres dans l'espace public",
        "Les États membres sont invités à concevoir des espaces publics sûrs et inclusifs pour"
        " les femmes.",
    ),
    (
        "agreement:209",
        "fr",
        "Gestion des déchets solides à Cotonou",
        "Collecte, tri et valorisation des déchets ménagers avec les coopératives locales.",
    ),
    (
        "minutes:210",
        "fr",
        "Procès-verbal de la réunion du comité des représentants permanents",
        "Le comité a examiné le rapport annuel et le programme de travail sur le logement.",
    ),
    # --- Spanish ---------------------------------------------------------------------------
    (
        "agreement:301",
        "es",
        "Vivienda asequible en Ciudad de México",
        "Convenio para la producción social de vivienda y el mejoramiento de barrios en la"
        " Ciudad Autónoma de México.",
    ),
    (
        "agreement:302",
        "es",
        "Agua potable y saneamiento en Lima",
        "Acceso a agua potable y saneamiento básico en asentamientos informales de Lima"
        " Metropolitana; meta ODS 6.1.",
    ),
    (
        "organization:303",
        "es",
        "Ciudad Autónoma de Buenos Aires",
        "Gobierno local socio en políticas de vivienda, espacio público y movilidad.",
    ),
    (
        "agreement:304",
        "es",
        "Gestión del riesgo de desastres en Centroamérica",
        "Planes municipales de gestión de riesgos ante huracanes, inundaciones y terremotos.",
    ),
    (
        "agreement:305",
        "es",
        "Espacio público seguro para mujeres en Bogotá",
        "Diseño participativo de parques y calles seguras con mujeres y niñas.",
    ),
    (
        "organization:306",
        "es",
        "Fundación Hábitat para la Humanidad",
        "Organización que construye viviendas con familias de bajos ingresos en América Latina.",
    ),
    (
        "agreement:307",
        "es",
        "Movilidad urbana sostenible en Quito",
        "Metro, corredores de autobús y ciclovías para reducir la congestión.",
    ),
    (
        "agreement:308",
        "es",
        "Planificación urbana y regional en Colombia",
        "Planes de ordenamiento territorial con municipios y departamentos.",
    ),
    (
        "outcome:309",
        "es",
        "Recomendación sobre tenencia de la tierra",
        "Se recomienda reconocer la tenencia consuetudinaria y los derechos de las mujeres a la"
        " tierra.",
    ),
    (
        "agreement:310",
        "es",
        "Participación comunitaria en la regeneración de barrios",
        "Presupuestos participativos para el mejoramiento de barrios en Medellín.",
    ),
    # --- Russian ---------------------------------------------------------------------------
    (
        "agreement:401",
        "ru",
        "Программа доступного жилья в Бишкеке",
        "Соглашение о строительстве социального жилья и модернизации жилищного фонда.",
    ),
    (
        "organization:402",
        "ru",
        "Московский городской университет",
        "Исследования в области жилищной политики и городского планирования.",
    ),
    (
        "agreement:403",
        "ru",
        "Водоснабжение и санитария в Душанбе",
        "Улучшение водоснабжения и санитарии в районах города; цель ЦУР 6.1.",
    ),
    (
        "agreement:404",
        "ru",
        "Устойчивое городское развитие Алматы",
        "Генеральный план, общественные пространства и энергоэффективность зданий.",
    ),
    (
        "agreement:405",
        "ru",
        "Адаптация к изменению климата в Ташкенте",
        "Озеленение, управление рисками наводнений и засух.",
    ),
    (
        "organization:406",
        "ru",
        "Союз российских городов",
        "Ассоциация муниципальных образований по обмену опытом городского управления.",
    ),
    (
        "agreement:407",
        "ru",
        "Общественный транспорт в Ереване",
        "Модернизация автобусного парка и развитие метрополитена.",
    ),
    (
        "outcome:408",
        "ru",
        "Рекомендация о праве на достаточное жилище",
        "Государствам-членам рекомендуется обеспечить защиту от принудительных выселений.",
    ),
    (
        "agreement:409",
        "ru",
        "Управление твёрдыми бытовыми отходами в Минске",
        "Раздельный сбор отходов и переработка вторичного сырья.",
    ),
    (
        "agreement:410",
        "ru",
        "Цифровые технологии для умных городов",
        "Открытые данные, городские платформы и цифровые услуги для жителей.",
    ),
    # --- Chinese ---------------------------------------------------------------------------
    ("agreement:501", "zh", "城市伙伴关系协议", "联合国人居署与上海市合作推动可持续城市发展。"),
    ("agreement:502", "zh", "住房保障与城市更新", "在重庆推进棚户区改造和保障性住房建设。"),
    (
        "organization:503",
        "zh",
        "中国城市规划设计研究院",
        "从事城市规划、交通规划和城市设计研究的机构。",
    ),
    (
        "agreement:504",
        "zh",
        "供水与卫生设施改善项目",
        "改善农村和城市地区的饮用水供应和卫生设施，落实可持续发展目标6.1。",
    ),
    ("agreement:505", "zh", "气候变化适应与韧性城市", "在武汉开展海绵城市建设，降低洪涝风险。"),
    ("agreement:506", "zh", "公共空间与安全城市", "为妇女和儿童设计安全的公园和街道。"),
    ("organization:507", "zh", "地方政府联合会", "促进地方政府之间的合作与经验交流。"),
    ("agreement:508", "zh", "城市交通与绿色出行", "发展公共交通、步行和自行车系统。"),
    ("agreement:509", "zh", "固体废物管理与循环经济", "在深圳推行垃圾分类和资源回收。"),
    (
        "outcome:510",
        "zh",
        "关于土地权属保障的建议",
        "建议会员国承认习惯土地权利并保护妇女的土地权。",
    ),
    # --- Arabic ----------------------------------------------------------------------------
    (
        "agreement:601",
        "ar",
        "برنامج الإسكان الميسر في القاهرة",
        "اتفاقية بين موئل الأمم المتحدة ومحافظة القاهرة لتطوير المناطق العشوائية وتوفير السكن"
        " الملائم.",
    ),
    (
        "agreement:602",
        "ar",
        "التنمية الحضرية المستدامة في الأردن",
        "دعم البلديات في التخطيط الحضري والتنمية الاقتصادية المحلية.",
    ),
    (
        "organization:603",
        "ar",
        "جامعة الدول العربية",
        "منظمة إقليمية تعمل على تعزيز التعاون بين الدول العربية في مجالات التنمية.",
    ),
    (
        "agreement:604",
        "ar",
        "المياه والصرف الصحي في غزة",
        "تحسين خدمات المياه والصرف الصحي في المخيمات والمدن؛ الغاية 6.2 من أهداف التنمية"
        " المستدامة.",
    ),
    (
        "agreement:605",
        "ar",
        "إعادة إعمار الموصل والحفاظ على التراث",
        "إعادة تأهيل المنازل والأسواق والمباني التراثية في المدينة القديمة.",
    ),
    (
        "agreement:606",
        "ar",
        "الأمن الحيازي وحقوق الأراضي في العراق",
        "تسجيل حقوق الأراضي والمساكن للعائدين والنازحين.",
    ),
    (
        "organization:607",
        "ar",
        "منظمة المدن العربية",
        "شبكة من البلديات والمدن العربية للتعاون في الإدارة المحلية.",
    ),
    (
        "agreement:608",
        "ar",
        "تخطيط المدن والنقل العام في الرياض",
        "تطوير شبكة النقل العام والمترو وتخطيط الأحياء.",
    ),
    (
        "outcome:609",
        "ar",
        "توصية بشأن الحق في السكن اللائق",
        "توصي الجمعية الدول الأعضاء بضمان الحماية من الإخلاء القسري.",
    ),
    (
        "agreement:610",
        "ar",
        "إدارة النفايات الصلبة في بيروت",
        "جمع النفايات وفرزها وإعادة تدويرها بالتعاون مع البلدية.",
    ),
    (
        "agreement:611",
        "ar",
        "تمكين المرأة في الفضاءات العامة",
        "تصميم أماكن عامة آمنة للنساء والفتيات في عمّان.",
    ),
]


def corpus() -> list[SearchDoc]:
    """The fixed corpus as search documents (public; a few invisible copies test that
    permissions still hold while ranking)."""
    docs = []
    for doc_id, lang, title, body in _DOCS:
        kind, _, pk = doc_id.partition(":")
        docs.append(
            SearchDoc(id=doc_id, kind=kind, title=title, body=body, url=f"/{kind}/{pk}", lang=lang)
        )
    # Internal drafts that match many judged queries: a public viewer must never see them.
    for n, (_doc_id, lang, title, body) in enumerate(_DOCS[::7]):
        docs.append(
            SearchDoc(
                id=f"agreement:9{n:02d}",
                kind="agreement",
                title=title,
                body=body,
                url=f"/agreement/9{n:02d}",
                lang=lang,
                principals=["staff"],
            )
        )
    return docs


@dataclass
class Judgment:
    lang: str
    kind: str  # name, topic, typo, prefix, arabic form, chinese, multi-word, code, phrase
    query: str
    top3: tuple[str, ...]
    top10: tuple[str, ...] = ()
    needs: str | None = None  # a capability the engine must claim to be held to this

    @property
    def relevant(self) -> set[str]:
        return {*self.top3, *self.top10}


def _j(lang, kind, query, top3, top10=(), needs=None) -> Judgment:
    ids = tuple(top3.split()) if isinstance(top3, str) else top3
    more = tuple(top10.split()) if isinstance(top10, str) else top10
    return Judgment(lang, kind, query, ids, more, needs)


A, ORG, M, R = "agreement:", "organization:", "minutes:", "outcome:"

JUDGMENTS: list[Judgment] = [
    # --- English ---------------------------------------------------------------------------
    _j("en", "name", "Slum Dwellers International", (ORG + "106",)),
    _j("en", "name", "Cities Alliance", (ORG + "111",)),
    _j("en", "name", "Housing Rights Network", (ORG + "103",)),
    _j("en", "typo", "Catalitic Action", (A + "102",)),
    _j("en", "typo", "hosuing", (A + "101", ORG + "103"), (M + "113",)),
    _j("en", "topic", "housing", (A + "101", ORG + "103"), (M + "113",)),
    _j("en", "typo", "sanitaton", (A + "104",)),
    _j("en", "prefix", "resil", (A + "105",), (A + "204",)),
    _j("en", "multi-word", "water sanitation secondary cities", (A + "104",)),
    _j("en", "multi-word", "flood early warning Mozambique", (A + "105",)),
    _j("en", "multi-word", "affordable housing Nairobi", (A + "101",)),
    _j("en", "code", "11.1", (A + "101",)),
    _j("en", "code", "UNH/2024/017", (A + "101",)),
    _j("en", "code", "MoU-KE-2023-04", (A + "104",)),
    _j("en", "code", "SDG 11.7", (A + "107",)),
    _j("en", "code", "indicator 11.3.1", (A + "114",)),
    _j("en", "multi-word", "women girls public space", (A + "107",)),
    _j("en", "typo", "trasnport planning", (A + "108",)),
    _j("en", "prefix", "recycl", (A + "110",)),
    # Agreement 101 has only "tenure": engines that drop words from the end miss it.
    _j("en", "multi-word", "land tenure", (R + "109",), (A + "101",), needs="any_word"),
    _j("en", "topic", "land rights", (R + "109",)),
    _j("en", "multi-word", "Mosul heritage", (A + "112",)),
    _j("en", "topic", "executive board minutes", (M + "113",)),
    _j("en", "multi-word", "urban indicators monitoring", (A + "114",)),
    _j("en", "phrase", '"circular economy"', (A + "110",)),
    _j("en", "topic", "slum upgrading", (A + "102",), (ORG + "106",)),
    # --- French ----------------------------------------------------------------------------
    _j("fr", "topic", "logement abordable", (A + "201",)),
    _j("fr", "name", "Université de Genève", (ORG + "203",)),
    _j("fr", "name", "universite geneve", (ORG + "203",)),
    _j("fr", "typo", "assainisement", (A + "202",)),
    _j("fr", "prefix", "inond", (A + "204",)),
    _j("fr", "multi-word", "quartiers précaires", (A + "201", A + "202", A + "205")),
    _j("fr", "typo", "mobilite durabel", (A + "207",)),
    _j("fr", "multi-word", "égalité des genres", (R + "208",)),
    _j("fr", "multi-word", "déchets Cotonou", (A + "209",)),
    _j("fr", "code", "procès-verbal comité", (M + "210",)),
    _j("fr", "name", "Association des maires francophones", (ORG + "206",)),
    _j("fr", "code", "ODD 6.2", (A + "202",), (A + "104",)),
    _j("fr", "multi-word", "coopération décentralisée", (ORG + "206",)),
    _j("fr", "prefix", "réhab", (A + "205",)),
    _j("fr", "name", "Niamey", (A + "204",)),
    _j("fr", "typo", "Casablnca", (A + "207",)),
    _j("fr", "topic", "tramway", (A + "207",)),
    _j("fr", "topic", "foncière", (A + "205",)),
    _j("fr", "multi-word", "espace public femmes", (R + "208",)),
    _j("fr", "multi-word", "logement social Dakar", (A + "201",)),
    _j("fr", "phrase", '"rapport annuel"', (M + "210",)),
    # --- Spanish ---------------------------------------------------------------------------
    _j("es", "topic", "vivienda asequible", (A + "301",)),
    _j("es", "name", "Ciudad Autonoma", (ORG + "303", A + "301")),
    _j("es", "typo", "saneamento", (A + "302",)),
    _j("es", "topic", "agua potable", (A + "302",)),
    _j("es", "prefix", "huraca", (A + "304",)),
    _j("es", "multi-word", "gestión de riesgos", (A + "304",)),
    _j("es", "multi-word", "Bogotá mujeres", (A + "305",)),
    _j("es", "name", "Hábitat para la Humanidad", (ORG + "306",)),
    _j("es", "multi-word", "movilidad Quito", (A + "307",)),
    _j("es", "typo", "planificasion urbana", (A + "308",)),
    _j("es", "code", "ODS 6.1", (A + "302",)),
    _j("es", "multi-word", "tenencia de la tierra", (R + "309",)),
    _j("es", "multi-word", "presupuestos participativos", (A + "310",)),
    _j("es", "name", "Medellin", (A + "310",)),
    _j("es", "topic", "ciclovias", (A + "307",)),
    _j("es", "multi-word", "espacio publico", (A + "305", ORG + "303")),
    _j("es", "multi-word", "ordenamiento territorial", (A + "308",)),
    _j("es", "multi-word", "familias de bajos ingresos", (ORG + "306",)),
    _j("es", "typo", "terremots", (A + "304",)),
    _j("es", "prefix", "asent", (A + "302",)),
    _j("es", "multi-word", "mejoramiento de barrios", (A + "301", A + "310")),
    # --- Russian ---------------------------------------------------------------------------
    _j("ru", "word form", "доступное жильё", (A + "401",)),
    _j("ru", "name", "университет", (ORG + "402",)),
    _j("ru", "word form", "жилищной политики", (ORG + "402",)),
    _j("ru", "multi-word", "водоснабжение Душанбе", (A + "403",)),
    _j("ru", "prefix", "санит", (A + "403",)),
    _j("ru", "typo", "устойчевое развитие", (A + "404",)),
    _j("ru", "word form", "изменение климата", (A + "405",)),
    _j("ru", "name", "Союз российских городов", (ORG + "406",)),
    _j("ru", "word form", "транспорт Ереван", (A + "407",)),
    _j("ru", "word form", "принудительные выселения", (R + "408",)),
    _j("ru", "word form", "отходы", (A + "409",)),
    _j("ru", "multi-word", "цифровые технологии", (A + "410",)),
    _j("ru", "code", "ЦУР 6.1", (A + "403",)),
    _j("ru", "prefix", "Бишкек", (A + "401",)),
    _j("ru", "typo", "модернезация", (A + "401", A + "407")),
    _j("ru", "multi-word", "генеральный план", (A + "404",)),
    _j("ru", "topic", "озеленение", (A + "405",)),
    _j("ru", "multi-word", "раздельный сбор", (A + "409",)),
    _j("ru", "word form", "жилья", (A + "401",)),
    _j("ru", "word form", "городское планирование", (ORG + "402",)),
    _j("ru", "name", "Минск", (A + "409",)),
    # --- Chinese ---------------------------------------------------------------------------
    _j("zh", "chinese 2", "伙伴", (A + "501",)),
    _j("zh", "chinese 4", "伙伴关系", (A + "501",)),
    _j("zh", "chinese 1", "棚", (A + "502",)),
    _j("zh", "chinese 2", "住房", (A + "502",)),
    _j("zh", "chinese 2", "规划", (ORG + "503",)),
    _j("zh", "chinese 4", "城市规划", (ORG + "503",)),
    _j("zh", "chinese 2", "供水", (A + "504",)),
    _j("zh", "chinese 4", "卫生设施", (A + "504",)),
    _j("zh", "chinese 4", "气候变化", (A + "505",)),
    _j("zh", "chinese 2", "韧性", (A + "505",)),
    _j("zh", "chinese 4", "海绵城市", (A + "505",)),
    _j("zh", "chinese 4", "公共空间", (A + "506",)),
    _j("zh", "chinese 2", "妇女", (A + "506", R + "510")),
    _j("zh", "chinese 4", "地方政府", (ORG + "507",)),
    _j("zh", "chinese 2", "交通", (A + "508", ORG + "503")),
    _j("zh", "chinese 4", "垃圾分类", (A + "509",)),
    _j("zh", "chinese 4", "循环经济", (A + "509",)),
    _j("zh", "chinese 2", "土地", (R + "510",)),
    _j("zh", "chinese 2", "上海", (A + "501",)),
    _j("zh", "chinese 3", "可持续", (A + "501", A + "504")),
    _j("zh", "multi-word", "重庆 住房", (A + "502",)),
    _j("zh", "chinese 3", "人居署", (A + "501",)),
    # --- Arabic ----------------------------------------------------------------------------
    _j("ar", "arabic form", "التنمية", (A + "602",), (ORG + "603", A + "604")),
    _j("ar", "arabic form", "تنمية", (A + "602",), (ORG + "603", A + "604")),
    _j("ar", "arabic form", "اسكان", (A + "601",)),
    _j("ar", "multi-word", "الإسكان الميسر", (A + "601",)),
    _j("ar", "arabic form", "المياه", (A + "604",)),
    _j("ar", "arabic form", "مياه", (A + "604",)),
    _j("ar", "multi-word", "الصرف الصحي", (A + "604",)),
    _j("ar", "name", "الموصل", (A + "605",)),
    _j("ar", "arabic form", "تراث", (A + "605",)),
    _j("ar", "name", "جامعة الدول العربية", (ORG + "603",)),
    _j("ar", "name", "منظمة المدن العربية", (ORG + "607",)),
    _j("ar", "multi-word", "حقوق الأراضي", (A + "606",)),
    _j("ar", "multi-word", "النقل العام", (A + "608",)),
    _j("ar", "name", "الرياض", (A + "608",)),
    _j("ar", "multi-word", "السكن اللائق", (R + "609",), (A + "601",)),
    _j("ar", "arabic form", "النفايات", (A + "610",)),
    _j("ar", "name", "بيروت", (A + "610",)),
    _j("ar", "arabic form", "المرأة", (A + "611",)),
    _j("ar", "typo", "التخطيت الحضري", (A + "602",)),
    _j("ar", "code", "الغاية 6.2", (A + "604",)),
    _j("ar", "arabic form", "بالقاهرة", (A + "601",)),
    _j("ar", "arabic form", "للتنمية", (A + "602",)),
    _j("ar", "arabic form", "الإِسْكَان", (A + "601",)),
]


@dataclass
class QueryResult:
    judgment: Judgment
    found: list[str]
    reciprocal_rank: float
    recall: float
    misses: list[str] = field(default_factory=list)  # judged documents not where they must be


@dataclass
class Report:
    engine: str
    results: list[QueryResult]

    def _mean(self, values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    def mrr(self, lang: str | None = None) -> float:
        return self._mean(
            [r.reciprocal_rank for r in self.results if lang in (None, r.judgment.lang)]
        )

    def recall(self, lang: str | None = None) -> float:
        return self._mean([r.recall for r in self.results if lang in (None, r.judgment.lang)])

    def count(self, lang: str | None = None) -> int:
        return sum(1 for r in self.results if lang in (None, r.judgment.lang))

    def failures(self) -> list[QueryResult]:
        return [r for r in self.results if r.misses]

    def table(self) -> str:
        lines = [
            f"relevance on {self.engine}: {self.count()} judged queries",
            f"  {'language':<10}{'queries':>8}{'MRR':>8}{'recall@10':>11}",
        ]
        for lang in LANGUAGES:
            lines.append(
                f"  {lang:<10}{self.count(lang):>8}{self.mrr(lang):>8.3f}{self.recall(lang):>11.3f}"
            )
        lines.append(f"  {'all':<10}{self.count():>8}{self.mrr():>8.3f}{self.recall():>11.3f}")
        for r in self.failures():
            lines.append(
                f"  miss [{r.judgment.lang}] {r.judgment.query!r}: {', '.join(r.misses)}"
                f" — got {r.found[:5]}"
            )
        return "\n".join(lines)


def evaluate(backend, engine: str | None = None) -> Report:
    """Run every judgment the engine is held to against ``backend`` (already loaded with
    ``corpus()``), as a public viewer."""
    results = []
    for judgment in JUDGMENTS:
        if judgment.needs and judgment.needs not in backend.capabilities:
            continue
        found = [
            hit.id
            for hit in backend.search(
                SearchQuery(text=judgment.query, principals={"public"}, per_page=10, facets=())
            ).hits
        ]
        relevant = judgment.relevant
        rank = next((i for i, doc_id in enumerate(found, 1) if doc_id in relevant), None)
        misses = [d for d in judgment.top3 if d not in found[:3]]
        misses += [d for d in judgment.top10 if d not in found[:10]]
        results.append(
            QueryResult(
                judgment=judgment,
                found=found,
                reciprocal_rank=1 / rank if rank else 0.0,
                recall=len(relevant & set(found[:10])) / len(relevant),
                misses=misses,
            )
        )
    return Report(engine=engine or backend.name, results=results)


def by_language_and_kind() -> dict[str, dict[str, int]]:
    """How many judged queries per language and kind (for docs and a coverage test)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for judgment in JUDGMENTS:
        counts[judgment.lang][judgment.kind] += 1
    return counts
