echo 'meet at noon' > notes.txt
angou keygen -o me.key
angou pubkey -i me.key > me.pub
angou encrypt -R me.pub -o notes.txt.age notes.txt
angou decrypt -i me.key notes.txt.age
