// Small name lexicons shipped with the detector (written for this project, not copied):
// common English given names, the ~100 most common Chinese surnames (百家姓 by frequency)
// plus common compound surnames, and the stop lists that keep ordinary words out.

/**
 * Common English given names. Names that are also ordinary words or months (May, June,
 * April, August, Will, Grace, Hope, Joy, Rose, …) and place names (Jordan, Austin, Georgia,
 * Paris, Virginia) are left out on purpose: "May Smith" is then only found with a label.
 */
const englishGivenNameList = `
James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew
Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward
Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin
Samuel Gregory Alexander Patrick Frank Raymond Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry
Zachary Douglas Peter Kyle Noah Ethan Jeremy Walter Christian Keith Roger Terry Harold Sean Gerald
Carl Arthur Lawrence Dylan Jesse Bryan Joe Billy Bruce Albert Willie Gabriel Logan Alan
Juan Wayne Roy Ralph Randy Eugene Vincent Russell Elijah Louis Bobby Philip Johnny Liam Oliver Lucas
Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Margaret
Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah Stephanie Rebecca
Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela Emma Nicole Helen Samantha
Katherine Christine Debra Rachel Carolyn Janet Catherine Maria Heather Diane Julie Joyce Victoria
Kelly Christina Lauren Joan Evelyn Olivia Judith Megan Cheryl Martha Andrea Frances Hannah Jacqueline
Ann Gloria Jean Kathryn Alice Teresa Sara Janice Doris Madison Julia Judy Abigail Marie Denise Beverly
Danielle Theresa Sophia Marilyn Natalie Diana Brittany Charlotte Kayla Alexis Lori Jane Sophie Ava
Mia Isabella Amelia Harper Chloe Ella Lily Zoe Wei Li Ming Hui Yan Mei Xin
`;

/** Words that are never the first or last token of a name, even when capitalised. */
const nameStopList = `
The A An And Or Of In On At To For From By With Without Is Was Are Be This That These Those It
He She They We You I My Your His Her Our Their Not No Yes None Unknown Male Female Man Woman Patient
Doctor Nurse Hospital Clinic Center Centre Medical University College Institute Street Road Avenue
Lane Drive Boulevard Department Ward Room Unit Service Services Health Care Group Company Inc Ltd
January February March April May June July August September October November December Jan Feb Mar
Apr Jun Jul Aug Sep Sept Oct Nov Dec Monday Tuesday Wednesday Thursday Friday Saturday Sunday Today
Tomorrow Yesterday Name Date Birth Phone Email Address Record Number Diagnosis Report History
Findings Impression Signed Summary Note Notes Chest Lung Heart Left Right Normal Negative Positive
Blood Test Results Result Discharge Admission Follow Please Dear Hello Hi Thanks Thank Regards Best
Sincerely Cheers Mr Mrs Ms Miss Dr Prof Sir Madam Attending Physician Surgeon Resident Admin User
Sample Example Test Demo Function Class Const Return Import Export Error String Number Boolean Null
True False Undefined Object Array Map Set New Order Product Item Total Price Invoice Version Saint
Lake River Mount Station Airport School Bank Church Library Museum Tower Bridge
`;

/**
 * The ~100 most common Chinese surnames (single character), by frequency. 向 is omitted: it
 * is far more often the preposition "towards" ("向医生反映") than a surname.
 */
const chineseSurnameChars =
  "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤";

/** Common compound surnames (复姓). */
const chineseCompoundSurnameList = [
  "欧阳",
  "司马",
  "诸葛",
  "上官",
  "东方",
  "皇甫",
  "尉迟",
  "公孙",
  "慕容",
  "令狐",
  "司徒",
  "夏侯",
  "长孙",
  "宇文",
  "端木",
  "独孤",
];

/**
 * Characters that end a Chinese given name in running clinical text: they are (almost)
 * never part of a name there and usually start the next word (患者张伟今日…, 李娜女，35岁).
 */
const chineseNameStopChars =
  "男女今昨因于在自主诉入出来到已被无有系为是和与及的了等岁年月日称述行经术后前左右曾现既近伴并患病院科号床医护先生士姐师夫之也都均仍再将从由对向把给但而或及其所签说告拒诊查看表";

/**
 * Two-character words that start with a surname character but are ordinary clinical or
 * everyday words (患者高热3天, 患者黄疸, 余无特殊, 方可出院).
 */
const chineseNonNameWords = [
  "高热",
  "高烧",
  "高血",
  "高度",
  "黄疸",
  "黄色",
  "白细",
  "白色",
  "余无",
  "余未",
  "方可",
  "方面",
  "陆续",
  "常规",
  "石膏",
  "毛发",
  "任何",
  "何时",
  "于是",
  "曾经",
  "曾有",
  "曾因",
  "周身",
  "周前",
  "周后",
  "周围",
  "程度",
  "许多",
  "严重",
  "莫名",
  "汤药",
  "万一",
  "金属",
  "夏季",
  "马上",
  "段时",
  "史无",
  "孙子",
  "孙女",
  "钟头",
  "郑重",
  "江湖",
];

function words(list: string): ReadonlySet<string> {
  return new Set(list.split(/\s+/).filter((w) => w.length > 0));
}

export const englishGivenNames: ReadonlySet<string> = words(englishGivenNameList);
export const englishNameStopWords: ReadonlySet<string> = words(nameStopList);
export const chineseSurnames: ReadonlySet<string> = new Set(Array.from(chineseSurnameChars));
export const chineseCompoundSurnames: ReadonlySet<string> = new Set(chineseCompoundSurnameList);
export const chineseNameStops: ReadonlySet<string> = new Set(Array.from(chineseNameStopChars));
export const chineseNonNames: ReadonlySet<string> = new Set(chineseNonNameWords);
