#!/usr/bin/python3
"""webfarmui.py - the web console on a farm in a real browser (Debian's
headless chromium, chromedriver, python3-selenium; run with /usr/bin/python3).

    webfarmui.py BASE_URL PASSWORD SCREENSHOT_DIR HOST_A HOST_B QID

QID is a held message of host B (to a.example) whose body is a script;
holdscan-web runs on host A. The admin sees it in the quarantine with B in
its host column, opens it ("Held on B", and the preview B sent: its
headers, its body as text, the script shown and not run), releases it ("Released on
B as ..."); the message log lists both hosts. Prints "ok<TAB>what" or
"not ok<TAB>what<TAB>detail" per check, "count<TAB>N" last; screenshots
in SCREENSHOT_DIR.
"""

import os
import sys
import tempfile

from selenium import webdriver
from selenium.common.exceptions import (StaleElementReferenceException,
                                        TimeoutException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

results = []


def check(cond, what, detail=""):
    results.append((bool(cond), what, str(detail)[:300]))


def main():
    base, pw, shots, host_a, host_b, qid = sys.argv[1:7]
    os.makedirs(shots, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1280,900",
              "--user-data-dir=" + tempfile.mkdtemp(prefix="hs-chromium."),
              "--no-first-run", "--disable-extensions",
              "--disable-background-networking"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                           options=opts)
    drv.set_page_load_timeout(30)
    wait = WebDriverWait(drv, 20,
                         ignored_exceptions=[StaleElementReferenceException])

    def shot(name):
        drv.save_screenshot(os.path.join(shots, name + ".png"))

    def text_when(id_, pred):
        try:
            wait.until(lambda d: pred(d.find_element(By.ID, id_).text))
        except TimeoutException:
            pass
        try:
            return drv.find_element(By.ID, id_).text
        except Exception as e:  # gone: say what there was
            return repr(e)

    try:
        drv.get(base + "/")
        wait.until(EC.presence_of_element_located((By.ID, "login-name")))
        drv.find_element(By.ID, "login-name").send_keys("admin")
        drv.find_element(By.ID, "login-password").send_keys(pw)
        drv.find_element(By.ID, "login-submit").click()
        wait.until(EC.presence_of_element_located((By.ID, "qtable")))
        row = [r for r in drv.find_elements(By.CSS_SELECTOR, "tr.qrow")
               if r.get_attribute("data-id") == qid]
        host = row[0].find_element(By.CSS_SELECTOR, "td.qhost").text if row else ""
        check(host == host_b, "B's message in A's quarantine, host B", host)
        shot("21-farm-quarantine")
        drv.get(base + "/#/q/" + qid)
        held = text_when("held-on", lambda s: host_b in s)
        check(host_b in held and "sent its content" in held,
              "it opens: held on B, which sent its content", held)
        heads = text_when("headers", lambda s: "X-Test-Token:" in s)
        check("X-Test-Token: fui-0" in heads,
              "the headers B sent are shown", heads[:200])
        body = text_when("body", lambda s: "<script>" in s)
        check("<script>document.title='pwned'</script>" in body and
              drv.title != "pwned" and
              not drv.find_elements(By.CSS_SELECTOR, "#body script, #main img"),
              "its body: the script's source, as text, not run", body[:80])
        shot("22-farm-message")
        drv.find_element(By.ID, "release").click()
        said = text_when("action-result", lambda s: s.startswith("Released"))
        check(said.startswith("Released on " + host_b + " as "),
              "release from A: released on B, with its new id", said)
        print("released\t%s" % said.split(" as ", 1)[-1].split(".")[0],
              file=sys.stderr)
        shot("23-farm-released")
        drv.get(base + "/#/log")
        wait.until(EC.presence_of_element_located((By.ID, "ltable")))
        hosts = {c.text for c in drv.find_elements(By.CSS_SELECTOR, "td.lhost")}
        check({host_a, host_b} <= hosts, "the message log: both hosts", hosts)
        shot("24-farm-log")
    except Exception as e:
        check(False, "webfarmui.py ran to its end", repr(e))
        shot("29-farm-error")
    finally:
        drv.quit()
    for good, w, detail in results:
        print("ok\t%s" % w if good else "not ok\t%s\t%s" % (w, detail))
    print("count\t%d" % len(results))


if __name__ == "__main__":
    main()
