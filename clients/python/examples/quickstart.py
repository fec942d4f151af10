from airlock_client import Client, Refused

with Client.unix("airlock.sock") as airlock:
    outcome = airlock.invoke("hello", {"name": "Ada"})
    print(outcome.output["greeting"], "run", outcome.run)
    try:
        airlock.invoke("not-approved", {})
    except Refused as refusal:
        print("refused:", refusal.code)
